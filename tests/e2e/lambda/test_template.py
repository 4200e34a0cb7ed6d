"""deploy/aws/template.yaml, the SAM template that deploys the photo function to AWS.

Nothing here reaches AWS. Two kinds of check:
  - cfn-lint (AWS's linter, which runs the SAM transform locally and validates the result against
    CloudFormation's resource schemas) passes on the template, and fails on a broken copy (so a
    pass means it really checked);
  - the template keeps its promises, read with a YAML loader that knows CloudFormation's short
    tags and evaluated for given parameter values: by default the function's outputs cannot
    trigger it again; a second bucket is used when asked; every IAM statement is scoped (no "*"
    resource or action, S3 access limited to the trigger and output prefixes, no reference to the
    bucket resource that would close the bucket -> permission -> function -> role cycle); failed
    invocations go to an SQS queue; the e-mail subscription exists only with an address; every
    parameter is constrained, with defaults that satisfy the constraints and limits that match
    the function's (src/function/function_config.h).

cfn-lint missing: skipped, except under CI=true, where it fails (CI cannot pass by skipping).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "deploy" / "aws" / "template.yaml"
FUNCTION_CONFIG_H = REPO / "src" / "function" / "function_config.h"
IN_CI = os.environ.get("CI", "").lower() == "true"
CFN_LINT_TIMEOUT_S = 240
SEPARATE_BUCKET = {"OutputBucketName": "photos-out-example", "OutputPrefix": ""}

# CloudWatch Logs' accepted retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653}


# --- reading the template -----------------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: !Ref X -> {"Ref": X}, !GetAtt A.B ->
    {"Fn::GetAtt": [A, B]}, !Sub/!If/!Equals/... -> {"Fn::<Name>": ...}."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template() -> dict:
    with TEMPLATE.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


NO_VALUE = object()


class Evaluator:
    """Evaluates intrinsic functions for given parameter values (defaults for the rest).
    A Ref or GetAtt of a resource stays symbolic: ("resource", name[, attribute])."""

    PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1",
              "AWS::AccountId": "123456789012", "AWS::StackName": "photoflux"}

    def __init__(self, template: dict, **overrides: str):
        self.template = template
        params = template["Parameters"]
        unknown = set(overrides) - set(params)
        if unknown:
            raise KeyError(f"no such parameters: {unknown}")
        # Parameters without a default (the bucket name) get an example value.
        self.params = {name: str(overrides.get(name, spec.get("Default", f"example-{name}")))
                       for name, spec in params.items()}
        self.params["UploadBucketName"] = overrides.get("UploadBucketName", "photos-example")
        self.resources = template["Resources"]

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.PSEUDO:
            return self.PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return ("resource", name)
        raise KeyError(f"Ref to unknown {name}")

    def sub(self, text: str) -> str:
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if "." in name:
                resource, attribute = name.split(".", 1)
                return f"<{resource}.{attribute}>"
            value = self.ref(name)
            return f"<{value[1]}>" if isinstance(value, tuple) else str(value)
        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                return ("resource", arg[0], arg[1])
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
        out = {}
        for k, v in node.items():
            v = self.value(v)
            if v is not NO_VALUE:
                out[k] = v
        return out


def walk(node):
    """Every dict and list in a tree, depth first."""
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def prefixes_overlap(a: str, b: str) -> bool:
    """Two key prefixes overlap when some key starts with both."""
    return a.startswith(b) or b.startswith(a)


# --- cfn-lint -----------------------------------------------------------------------------------

def cfn_lint() -> str | None:
    found = shutil.which("cfn-lint")
    if found is None and IN_CI:
        raise AssertionError("cfn-lint is not installed (pip install cfn-lint); CI must run it")
    return found


def run_cfn_lint(binary: str, template: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--", str(template)], capture_output=True, text=True,
                          timeout=CFN_LINT_TIMEOUT_S, check=False)


class CfnLintTest(unittest.TestCase):
    def setUp(self):
        self.binary = cfn_lint()
        if self.binary is None:
            self.skipTest("cfn-lint is not installed (pip install cfn-lint)")

    def test_template_passes_cfn_lint(self):
        result = run_cfn_lint(self.binary, TEMPLATE)
        self.assertEqual(result.returncode, 0,
                         f"cfn-lint {TEMPLATE} found problems:\n{result.stdout}{result.stderr}")

    def test_cfn_lint_rejects_a_broken_copy(self):
        # Out-of-range values inside the SAM resource: cfn-lint sees them only after running the
        # SAM transform, so a failure here proves the transform ran and its result was checked.
        text = TEMPLATE.read_text(encoding="utf-8")
        broken = text.replace("MaximumRetryAttempts: !Ref MaximumRetryAttempts",
                              "MaximumRetryAttempts: 7")
        broken = broken.replace("Runtime: provided.al2023", "Runtime: provided.al1999")
        self.assertNotEqual(broken, text, "the template changed: update this test's edits")
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "template.yaml"
            copy.write_text(broken, encoding="utf-8")
            result = run_cfn_lint(self.binary, copy)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn("provided.al1999", result.stdout)
        self.assertIn("greater than the maximum of 2", result.stdout)


# --- promises -----------------------------------------------------------------------------------

class TemplatePromisesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()
        cls.resources = cls.template["Resources"]
        cls.params = cls.template["Parameters"]

    def function(self, **overrides) -> dict:
        return Evaluator(self.template, **overrides).value(
            self.resources["PhotoFunction"]["Properties"])

    def statements(self, **overrides) -> dict:
        role = Evaluator(self.template, **overrides).value(
            self.resources["FunctionRole"]["Properties"])
        return {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}

    def test_is_a_sam_template_for_the_custom_runtime(self):
        self.assertEqual(self.template["Transform"], "AWS::Serverless-2016-10-31")
        fn = self.resources["PhotoFunction"]
        self.assertEqual(fn["Type"], "AWS::Serverless::Function")
        self.assertEqual(fn["Properties"]["Runtime"], "provided.al2023")
        self.assertEqual(fn["Properties"]["Architectures"], [{"Ref": "Architecture"}])
        self.assertEqual(set(self.params["Architecture"]["AllowedValues"]), {"x86_64", "arm64"})
        self.assertTrue(str(fn["Properties"]["CodeUri"]).endswith(".zip"))

    def test_by_default_outputs_cannot_retrigger_the_function(self):
        ev = Evaluator(self.template)
        events = self.function()["Events"]
        self.assertEqual(len(events), 1)
        (event,) = events.values()
        self.assertEqual(event["Type"], "S3")
        self.assertEqual(event["Properties"]["Bucket"], ("resource", "UploadBucket"))
        rules = {r["Name"]: r["Value"] for r in event["Properties"]["Filter"]["S3Key"]["Rules"]}
        self.assertEqual(rules, {"prefix": "uploads/"}, "default filter: uploads/, any suffix")
        env = self.function()["Environment"]["Variables"]
        self.assertNotIn("PF_OUTPUT_BUCKET", env, "by default outputs go to the upload bucket")
        self.assertEqual(env["PF_OUTPUT_PREFIX"], "processed/")
        self.assertFalse(prefixes_overlap(rules["prefix"], env["PF_OUTPUT_PREFIX"]),
                         "the default output prefix would trigger the function")
        self.assertFalse(ev.condition("HasTriggerSuffix"))
        # With a suffix, both rules are sent (S3 refuses empty filter values, hence the If).
        event = self.function(TriggerSuffix=".jpg")["Events"]["Upload"]
        rules = {r["Name"]: r["Value"] for r in event["Properties"]["Filter"]["S3Key"]["Rules"]}
        self.assertEqual(rules, {"prefix": "uploads/", "suffix": ".jpg"})

    def test_an_output_prefix_equal_to_the_trigger_prefix_is_refused(self):
        rule = self.template["Rules"]["OutputMustNotRetrigger"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Equals": [{"Ref": "OutputBucketName"}, ""]})
        asserts = [a["Assert"] for a in rule["Assertions"]]
        for overrides, holds in (({}, True),
                                 ({"OutputPrefix": "uploads/"}, False),
                                 ({"OutputPrefix": ""}, False)):
            ev = Evaluator(self.template, **overrides)
            self.assertEqual(all(ev.value(a) for a in asserts), holds, overrides)
        # The function refuses an empty prefix without a second bucket too (PF_OUTPUT_PREFIX).
        self.assertIn("may be empty only with a separate PF_OUTPUT_BUCKET",
                      (REPO / "src" / "function" / "function_config.cc").read_text())

    def test_a_second_bucket_when_asked(self):
        ev = Evaluator(self.template, **SEPARATE_BUCKET)
        self.assertTrue(ev.condition("CreateSeparateOutputBucket"))
        env = self.function(**SEPARATE_BUCKET)["Environment"]["Variables"]
        self.assertEqual(env["PF_OUTPUT_BUCKET"], ("resource", "OutputBucket"))
        self.assertEqual(self.resources["OutputBucket"]["Condition"], "CreateSeparateOutputBucket")
        existing = dict(SEPARATE_BUCKET, CreateOutputBucket="false")
        self.assertFalse(Evaluator(self.template, **existing).condition(
            "CreateSeparateOutputBucket"))
        env = self.function(**existing)["Environment"]["Variables"]
        self.assertEqual(env["PF_OUTPUT_BUCKET"], "photos-out-example")
        # The role follows the outputs to the other bucket and no longer writes to the upload one.
        write = self.statements(**existing)["WriteDerivatives"]
        self.assertEqual(write["Resource"], "arn:aws:s3:::photos-out-example/*")

    def test_iam_statements_are_scoped(self):
        fn = self.resources["PhotoFunction"]["Properties"]
        # SAM would attach AWSLambdaBasicExecutionRole (logs on "*") to a role it makes.
        self.assertIn("Role", fn)
        self.assertNotIn("Policies", fn)
        for overrides in ({}, SEPARATE_BUCKET):
            statements = self.statements(**overrides)
            for sid, s in statements.items():
                self.assertEqual(s["Effect"], "Allow", sid)
                for action in as_list(s["Action"]):
                    self.assertNotIn("*", action, f"{sid}: wildcard action {action}")
                for resource in as_list(s["Resource"]):
                    if isinstance(resource, str):
                        self.assertNotEqual(resource, "*", f"{sid}: resource *")
                        self.assertTrue(resource.startswith("arn:aws:"), f"{sid}: {resource}")
        s = self.statements()
        self.assertEqual(as_list(s["ReadUploads"]["Action"]), ["s3:GetObject"])
        self.assertEqual(s["ReadUploads"]["Resource"], "arn:aws:s3:::photos-example/uploads/*")
        bucket = "photos-example"
        self.assertEqual(set(as_list(s["WriteDerivatives"]["Action"])),
                         {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"})
        self.assertEqual(s["WriteDerivatives"]["Resource"], f"arn:aws:s3:::{bucket}/processed/*")
        self.assertEqual(as_list(s["ListDerivatives"]["Action"]), ["s3:ListBucket"])
        self.assertEqual(s["ListDerivatives"]["Condition"],
                         {"StringLike": {"s3:prefix": "processed/*"}})
        self.assertEqual(s["Announce"]["Resource"], ("resource", "PhotoTopic"))
        self.assertEqual(as_list(s["FailureDestination"]["Action"]), ["sqs:SendMessage"])
        self.assertEqual(s["FailureDestination"]["Resource"],
                         ("resource", "FailureQueue", "Arn"))
        self.assertEqual(s["Logs"]["Resource"], "arn:aws:logs:us-east-1:123456789012:log-group:"
                         "<FunctionLogGroup>:*")
        # Only what the function does: no s3 action beyond these, nothing else at all.
        actions = {a for st in s.values() for a in as_list(st["Action"])}
        self.assertEqual(actions, {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                   "s3:ListBucket", "sns:Publish", "sqs:SendMessage",
                                   "logs:CreateLogStream", "logs:PutLogEvents"})

    def test_role_does_not_reference_the_upload_bucket_resource(self):
        # The bucket's notification depends on the function (and its permission), the function
        # on its role: a Ref/GetAtt/${UploadBucket} in either would close a cycle.
        fn = dict(self.resources["PhotoFunction"]["Properties"])
        del fn["Events"]  # the one place that names the bucket resource: SAM wires it
        for node in walk([self.resources["FunctionRole"], fn]):
            if isinstance(node, dict):
                self.assertNotEqual(node.get("Ref"), "UploadBucket")
                self.assertNotEqual((node.get("Fn::GetAtt") or [None])[0], "UploadBucket")
                self.assertNotIn("${UploadBucket}", str(node.get("Fn::Sub", "")))
                self.assertNotIn("${UploadBucket.", str(node.get("Fn::Sub", "")))

    def test_failed_invocations_go_to_a_queue(self):
        config = self.function()["EventInvokeConfig"]
        self.assertEqual(config["DestinationConfig"]["OnFailure"],
                         {"Type": "SQS", "Destination": ("resource", "FailureQueue", "Arn")})
        self.assertEqual(self.resources["FailureQueue"]["Type"], "AWS::SQS::Queue")
        raw = self.resources["PhotoFunction"]["Properties"]["EventInvokeConfig"]
        self.assertEqual(raw["MaximumRetryAttempts"], {"Ref": "MaximumRetryAttempts"})
        self.assertEqual(raw["MaximumEventAgeInSeconds"], {"Ref": "MaximumEventAgeInSeconds"})
        # Lambda's own ranges (PutFunctionEventInvokeConfig).
        self.assertEqual((self.params["MaximumRetryAttempts"]["MinValue"],
                          self.params["MaximumRetryAttempts"]["MaxValue"]), (0, 2))
        self.assertEqual((self.params["MaximumEventAgeInSeconds"]["MinValue"],
                          self.params["MaximumEventAgeInSeconds"]["MaxValue"]), (60, 21600))
        self.assertNotIn("Condition", self.resources["FailureQueue"])

    def test_email_subscription_only_with_an_address(self):
        sub = self.resources["EmailSubscription"]
        self.assertEqual(sub["Type"], "AWS::SNS::Subscription")
        self.assertEqual(sub["Properties"]["Protocol"], "email")
        self.assertEqual(sub["Properties"]["TopicArn"], {"Ref": "PhotoTopic"})
        self.assertEqual(sub["Properties"]["Endpoint"], {"Ref": "EmailAddress"})
        condition = sub["Condition"]
        self.assertFalse(Evaluator(self.template).condition(condition))
        self.assertTrue(Evaluator(self.template, EmailAddress="me@example.com").condition(
            condition))
        pattern = self.params["EmailAddress"]["AllowedPattern"]
        self.assertTrue(re.fullmatch(pattern, "me@example.com"))
        self.assertFalse(re.fullmatch(pattern, "not an address"))

    def test_parameters_are_constrained_and_defaults_valid(self):
        for name, spec in self.params.items():
            constrained = ("AllowedValues" in spec or "AllowedPattern" in spec
                           or ("MinValue" in spec and "MaxValue" in spec) or "MaxLength" in spec)
            self.assertTrue(constrained, f"parameter {name} accepts anything")
            self.assertIn("Description", spec, name)
            default = spec.get("Default")
            if default is None:
                continue
            if "AllowedValues" in spec:
                self.assertIn(default, spec["AllowedValues"], name)
            if "AllowedPattern" in spec:
                self.assertTrue(re.fullmatch(spec["AllowedPattern"], str(default)), name)
            if spec["Type"] == "Number":
                self.assertLessEqual(spec.get("MinValue", default), default, name)
                self.assertLessEqual(default, spec.get("MaxValue", default), name)
            if "MaxLength" in spec:
                self.assertLessEqual(len(str(default)), spec["MaxLength"], name)
        # Lambda's limits.
        self.assertEqual((self.params["MemorySize"]["MinValue"],
                          self.params["MemorySize"]["MaxValue"]), (128, 10240))
        self.assertLessEqual(self.params["Timeout"]["MaxValue"], 900)
        self.assertLessEqual(set(self.params["LogRetentionInDays"]["AllowedValues"]),
                             LOG_RETENTION_DAYS)
        # Bucket names as S3 takes them.
        for pattern in (self.params["UploadBucketName"]["AllowedPattern"],
                        self.params["OutputBucketName"]["AllowedPattern"]):
            self.assertTrue(re.fullmatch(pattern, "my-photos.2026"))
            self.assertFalse(re.fullmatch(pattern, "My_Photos"))
            self.assertFalse(re.fullmatch(pattern, "-photos"))
        self.assertFalse(re.fullmatch(self.params["TriggerPrefix"]["AllowedPattern"], "/uploads"))

    def test_limits_match_the_function(self):
        header = FUNCTION_CONFIG_H.read_text(encoding="utf-8")
        shift = re.search(r"kMaxPhotoBytesLimit = (\d+)ull << (\d+);", header)
        default = re.search(r"kDefaultMaxPhotoBytes = (\d+)ull << (\d+);", header)
        self.assertIsNotNone(shift, "function_config.h changed: update this test")
        self.assertEqual(self.params["MaxPhotoBytes"]["MaxValue"],
                         int(shift.group(1)) << int(shift.group(2)))
        self.assertEqual(self.params["MaxPhotoBytes"]["Default"],
                         int(default.group(1)) << int(default.group(2)))
        # Every PF_* variable the template sets is one the function reads.
        documented = set(re.findall(r"^//\s+(PF_[A-Z_]+)", header, re.MULTILINE))
        env = self.resources["PhotoFunction"]["Properties"]["Environment"]["Variables"]
        self.assertLessEqual(set(env), documented)
        self.assertTrue({"PF_OUTPUT_PREFIX", "PF_TOPIC_ARN", "PF_OUTPUT_BUCKET"} <= set(env))
        values = self.function(Recipe='{"outputs": []}')["Environment"]["Variables"]
        self.assertEqual(values["PF_RECIPE"], '{"outputs": []}')
        self.assertNotIn("PF_RECIPE_FILE", values)
        self.assertNotIn("PF_RECIPE", self.function()["Environment"]["Variables"])

    def test_buckets_are_private_and_encrypted(self):
        for overrides, name in (({}, "UploadBucket"), (SEPARATE_BUCKET, "OutputBucket")):
            props = Evaluator(self.template, **overrides).value(
                self.resources[name]["Properties"])
            self.assertEqual(set(props["PublicAccessBlockConfiguration"].values()), {True}, name)
            self.assertEqual(len(props["PublicAccessBlockConfiguration"]), 4, name)
            sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            self.assertIn(sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                          {"AES256", "aws:kms"}, name)
        props = Evaluator(self.template).value(self.resources["UploadBucket"]["Properties"])
        self.assertNotIn("VersioningConfiguration", props, "versioning is off by default")
        props = Evaluator(self.template, BucketVersioning="Enabled").value(
            self.resources["UploadBucket"]["Properties"])
        self.assertEqual(props["VersioningConfiguration"], {"Status": "Enabled"})

    def test_log_group_and_outputs(self):
        group = self.resources["FunctionLogGroup"]
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionInDays"})
        logging = self.resources["PhotoFunction"]["Properties"]["LoggingConfig"]
        self.assertEqual(logging["LogGroup"], {"Ref": "FunctionLogGroup"})
        outputs = self.template["Outputs"]
        for key in ("UploadBucket", "TopicArn", "FunctionArn", "FailureQueueUrl",
                    "ExampleUpload", "LogGroupName", "OutputLocation"):
            self.assertIn(key, outputs)
        example = Evaluator(self.template).value(outputs["ExampleUpload"]["Value"])
        self.assertRegex(example, r"^aws s3 cp photo\.jpg s3://<UploadBucket>/uploads/photo\.jpg$")
        example = Evaluator(self.template, TriggerSuffix=".JPG").value(
            outputs["ExampleUpload"]["Value"])
        self.assertTrue(example.endswith("/uploads/photo.JPG"), example)


if __name__ == "__main__":
    unittest.main()
