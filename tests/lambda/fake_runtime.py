#!/usr/bin/env python3
"""A small custom runtime for the function host's tests. It speaks the Lambda Runtime API
(aws-protocols.md section 4.1) with urllib only, like a real provided.al2023 bootstrap, and does
what the event asks:

  {"do": "ok"}                               respond {"ok": true}
  {"do": "fail", "error_type": T, "error_message": M}
                                             post an error (type Fake.Failure unless given)
  {"do": "crash", "exit_code": C}            exit mid-invocation (code 3 unless given)
  {"do": "sleep", "seconds": S}              sleep S seconds, then respond
  {"do": "big", "bytes": N, "status_file": F}
                                             respond with N bytes; write the HTTP status to F
  "fail_times": N with "counter_file": F     fail / crash / sleep only while the count of
                                             deliveries of this event (kept in F) is <= N;
                                             afterwards respond ok
  "record_file": F                           append one JSON line per delivery: start and end
                                             times, pid, request id, deadline, ARN, trace id
  "log": TEXT, "log_stderr": TEXT            print TEXT to stdout / stderr first

Environment: FAKE_RUNTIME_INIT_ERROR=1 posts /runtime/init/error and exits 1;
FAKE_RUNTIME_SPAWN_FILE=F appends a line to F at every start.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01"


def post(path, body, headers=None):
    request = urllib.request.Request(API + path, data=body, method="POST",
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def post_error(path, error_type, message):
    body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})
    return post(path, body.encode(), {"Lambda-Runtime-Function-Error-Type": error_type,
                                      "Content-Type": "application/json"})


def bump(counter_file):
    count = 0
    if os.path.exists(counter_file):
        with open(counter_file) as f:
            count = int(f.read().strip() or "0")
    count += 1
    with open(counter_file, "w") as f:
        f.write(str(count))
    return count


def main():
    if os.environ.get("FAKE_RUNTIME_SPAWN_FILE"):
        with open(os.environ["FAKE_RUNTIME_SPAWN_FILE"], "a") as f:
            f.write("%d %f\n" % (os.getpid(), time.time()))
    if os.environ.get("FAKE_RUNTIME_INIT_ERROR") == "1":
        post_error("/runtime/init/error", "Fake.InitError", "init failed on purpose")
        sys.exit(1)
    while True:
        try:
            with urllib.request.urlopen(API + "/runtime/invocation/next") as response:
                request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
                deadline = response.headers["Lambda-Runtime-Deadline-Ms"]
                arn = response.headers["Lambda-Runtime-Invoked-Function-Arn"]
                trace = response.headers["Lambda-Runtime-Trace-Id"]
                event = json.loads(response.read())
        except urllib.error.HTTPError as error:
            sys.exit(2 if error.code == 500 else 4)  # 500: the environment is going away
        start = time.time()
        base = "/runtime/invocation/" + request_id
        if "log" in event:
            print(event["log"], flush=True)
        if "log_stderr" in event:
            print(event["log_stderr"], file=sys.stderr, flush=True)
        action = event.get("do", "ok")
        if "counter_file" in event and bump(event["counter_file"]) > event.get("fail_times", 0):
            action = "ok"
        if action == "sleep":
            time.sleep(float(event.get("seconds", 0)))
        if "record_file" in event:
            with open(event["record_file"], "a") as f:
                f.write(json.dumps({"start": start, "end": time.time(), "pid": os.getpid(),
                                    "request_id": request_id, "deadline_ms": int(deadline),
                                    "arn": arn, "trace": trace}) + "\n")
        if action == "crash":
            os._exit(int(event.get("exit_code", 3)))
        elif action == "fail":
            post_error(base + "/error", event.get("error_type", "Fake.Failure"),
                       event.get("error_message", "failed on purpose"))
        elif action == "big":
            status = post(base + "/response", b"x" * int(event["bytes"]))
            with open(event["status_file"], "w") as f:
                f.write(str(status))
        else:
            post(base + "/response", json.dumps({"ok": True}).encode())


if __name__ == "__main__":
    main()
