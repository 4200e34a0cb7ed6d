// WorkerProcess with real processes (/bin/sh): exact environment, log capture with cut lines,
// exit statuses, kill, exec failures; and the restart backoff and log-line helpers.
#include "lambda/worker_process.h"
#include "log_capture.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace pf::lambda {
namespace {

using namespace std::chrono_literals;

WorkerSpec shell(const std::string& script, std::map<std::string, std::string> env = {}) {
    WorkerSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.environment = std::move(env);
    spec.environment.emplace("PATH", "/usr/bin:/bin");
    spec.function_name = "shtest";
    spec.environment_index = 3;
    spec.max_log_line_bytes = 64;
    return spec;
}

// Waits for the captured log to contain `text` (the monitor thread logs asynchronously).
bool wait_for_log(test::CaptureSink& sink, const std::string& text) {
    for (int i = 0; i < 400; ++i) {
        if (sink.count_containing(text) > 0) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(WorkerProcess, RunsWithExactlyTheGivenEnvironmentAndLogsItsOutput) {
    test::LogCapture capture("function");
    std::atomic<int> exits{0};
    auto worker = WorkerProcess::spawn(
        shell("echo \"FOO=$FOO HOME=${HOME:-unset}\"; echo to-stderr >&2; exit 7",
              {{"FOO", "bar baz"}}),
        [&] { ++exits; });
    ASSERT_TRUE(worker) << worker.error().message;
    ASSERT_TRUE((*worker)->wait_exit(5s));
    ASSERT_TRUE(wait_for_log(capture.sink(), "to-stderr"));
    auto status = (*worker)->exit_status();
    ASSERT_TRUE(status);
    EXPECT_FALSE(status->signaled);
    EXPECT_EQ(status->code, 7);
    EXPECT_EQ(status->describe(), "exit status 7");
    EXPECT_EQ(capture.sink().count_containing(
                  "function=shtest env=3 stream=stdout msg=\"FOO=bar baz HOME=unset\""),
              1u);
    EXPECT_EQ(capture.sink().count_containing("stream=stderr msg=\"to-stderr\""), 1u);
    worker->reset();
    EXPECT_EQ(exits.load(), 1);
}

TEST(WorkerProcess, LongLinesAreCutAndControlBytesEscaped) {
    test::LogCapture capture("function");
    auto worker = WorkerProcess::spawn(
        shell("printf 'a%.0s' $(seq 1 200); printf '\\n'; printf 'tab\\there \"q\"\\n'"), {});
    ASSERT_TRUE(worker);
    ASSERT_TRUE((*worker)->wait_exit(5s));
    ASSERT_TRUE(wait_for_log(capture.sink(), "tab"));
    EXPECT_EQ(capture.sink().count_containing(std::string(64, 'a') + " ...[136 bytes cut]"), 1u);
    EXPECT_EQ(capture.sink().count_containing(std::string(65, 'a')), 0u);
    EXPECT_EQ(capture.sink().count_containing("msg=\"tab\\u0009here \\\"q\\\"\""), 1u);
}

TEST(WorkerProcess, KillEndsTheWholeProcessGroup) {
    auto worker = WorkerProcess::spawn(shell("sleep 30 & sleep 30; wait"), {});
    ASSERT_TRUE(worker);
    EXPECT_FALSE((*worker)->exited());
    const auto started = std::chrono::steady_clock::now();
    (*worker)->kill();
    ASSERT_TRUE((*worker)->wait_exit(5s));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    EXPECT_EQ((*worker)->exit_status()->describe(), "signal: killed");
    // The background sleep was in the group too: nothing still holds the pipes, so destroying
    // the object (which joins the monitor) is quick.
    worker->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(WorkerProcess, ExecFailureIsReportedBySpawn) {
    WorkerSpec spec;
    spec.argv = {"/nonexistent/bootstrap"};
    auto worker = WorkerProcess::spawn(spec, {});
    ASSERT_FALSE(worker);
    EXPECT_EQ(worker.error().code, ErrorCode::Unavailable);
    EXPECT_NE(worker.error().message.find("cannot execute /nonexistent/bootstrap"),
              std::string::npos);
    spec.argv = {};
    EXPECT_EQ(WorkerProcess::spawn(spec, {}).error().code, ErrorCode::InvalidArgument);
    auto bad_env = WorkerProcess::spawn(shell("true", {{"A=B", "x"}}), {});
    EXPECT_EQ(bad_env.error().code, ErrorCode::InvalidArgument);
}

TEST(WorkerProcess, DestructorKillsARunningWorker) {
    std::atomic<int> exits{0};
    auto worker = WorkerProcess::spawn(shell("exec sleep 30"), [&] { ++exits; });
    ASSERT_TRUE(worker);
    const int pid = (*worker)->pid();
    worker->reset();
    EXPECT_EQ(exits.load(), 1);
    EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process
}

TEST(RestartBackoff, DoublesUpToTheCapAndResets) {
    RestartBackoff backoff(100ms, 700ms);
    EXPECT_EQ(backoff.failure(), 100ms);
    EXPECT_EQ(backoff.failure(), 200ms);
    EXPECT_EQ(backoff.failure(), 400ms);
    EXPECT_EQ(backoff.failure(), 700ms);
    EXPECT_EQ(backoff.failure(), 700ms);
    EXPECT_EQ(backoff.consecutive_failures(), 5);
    backoff.reset();
    EXPECT_EQ(backoff.failure(), 100ms);
}

TEST(LogLineSplitter, SplitsAcrossFeedsAndCutsLongLines) {
    std::vector<std::string> lines;
    LogLineSplitter splitter(5, [&](std::string_view l) { lines.emplace_back(l); });
    splitter.feed("ab");
    splitter.feed("c\r\nlonger line\nx");
    splitter.finish();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "abc");
    EXPECT_EQ(lines[1], "longe ...[6 bytes cut]");
    EXPECT_EQ(lines[2], "x");
}

TEST(EscapeLogText, EscapesQuotesBackslashesAndBytes) {
    EXPECT_EQ(escape_log_text("a\"b\\c\n\x01\x7f"), "a\\\"b\\\\c\\u000a\\u0001\\u007f");
    // Well-formed UTF-8 stays readable; broken sequences, overlongs and surrogates do not.
    EXPECT_EQ(escape_log_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7"),
              "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7");
    EXPECT_EQ(escape_log_text("\xc3"), "\\u00c3");
    EXPECT_EQ(escape_log_text("\xc0\xaf"), "\\u00c0\\u00af");
    EXPECT_EQ(escape_log_text("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080");
}

}  // namespace
}  // namespace pf::lambda
