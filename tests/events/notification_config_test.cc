// The NotificationConfiguration codec and its validation: what botocore sends (§3.1), S3's error
// codes and wording, wildcards, generated ids and the overlap rule.
#include "events/notification_config.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace pf::events {
namespace {

constexpr const char* kLambdaArn = "arn:aws:lambda:us-east-1:123456789012:function:thumb";
constexpr const char* kTopicArn = "arn:aws:sns:us-east-1:123456789012:photo-events";
constexpr const char* kQueueArn = "arn:aws:sqs:us-east-1:123456789012:q";
constexpr const char* kMalformedMessage =
    "The XML you provided was not well-formed or did not validate against our published schema.";

// Exactly what botocore 1.43 serialises for put_bucket_notification_configuration with a Lambda
// configuration (Id, prefix and suffix filter), a topic without Id and EventBridge turned on.
constexpr const char* kBotocoreBody =
    R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<CloudFunctionConfiguration><Id>thumb</Id>)"
    R"(<CloudFunction>arn:aws:lambda:us-east-1:123456789012:function:thumb</CloudFunction>)"
    R"(<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name>)"
    R"(<Value>uploads/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg</Value>)"
    R"(</FilterRule></S3Key></Filter></CloudFunctionConfiguration><TopicConfiguration>)"
    R"(<Topic>arn:aws:sns:us-east-1:123456789012:photo-events</Topic>)"
    R"(<Event>s3:ObjectRemoved:*</Event></TopicConfiguration><EventBridgeConfiguration />)"
    R"(</NotificationConfiguration>)";

std::string document(const std::string& inner) {
    return R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)" +
           inner + "</NotificationConfiguration>";
}

struct RuleSpec {
    std::string element = "CloudFunctionConfiguration";
    std::string arn = kLambdaArn;
    std::vector<std::string> events{"s3:ObjectCreated:*"};
    std::vector<std::pair<std::string, std::string>> filters;  // name, value
    std::string id;
};

std::string rule_xml(const RuleSpec& spec) {
    std::string arn_element = spec.element == "CloudFunctionConfiguration" ? "CloudFunction"
                              : spec.element == "TopicConfiguration"       ? "Topic"
                                                                           : "Queue";
    std::string out = "<" + spec.element + ">";
    if (!spec.id.empty()) {
        out += "<Id>" + spec.id + "</Id>";
    }
    out += "<" + arn_element + ">" + spec.arn + "</" + arn_element + ">";
    for (const auto& e : spec.events) {
        out += "<Event>" + e + "</Event>";
    }
    if (!spec.filters.empty()) {
        out += "<Filter><S3Key>";
        for (const auto& [name, value] : spec.filters) {
            out += "<FilterRule><Name>" + name + "</Name><Value>" + value + "</Value></FilterRule>";
        }
        out += "</S3Key></Filter>";
    }
    return out + "</" + spec.element + ">";
}

struct Outcome {
    Result<NotificationConfiguration> result;
    ErrorArguments arguments;
};

Outcome parse(const std::string& xml, ParseOptions options = {}) {
    ErrorArguments arguments;
    auto result = parse_notification_configuration(xml, options, &arguments);
    return {std::move(result), std::move(arguments)};
}

// "<code>: <public message>" of a failure, "OK" for a success.
std::string failure_of(const Outcome& outcome) {
    if (outcome.result) {
        return "OK";
    }
    const Error& e = outcome.result.error();
    std::string code = e.code == ErrorCode::CorruptInput      ? "MalformedXML"
                       : e.code == ErrorCode::InvalidArgument ? "InvalidArgument"
                       : e.code == ErrorCode::TooLarge        ? "TooLarge"
                                                              : "other";
    return code + ": " + e.client_message();
}

TEST(NotificationConfig, ParsesWhatBotocoreSends) {
    auto outcome = parse(kBotocoreBody);
    ASSERT_TRUE(outcome.result) << failure_of(outcome);
    const auto& config = *outcome.result;
    EXPECT_TRUE(config.event_bridge);
    ASSERT_EQ(config.rules.size(), 2u);
    // Canonical order: topics before functions, whatever the document order.
    const auto& topic = config.rules[0];
    EXPECT_EQ(topic.kind, DestinationKind::Topic);
    EXPECT_EQ(topic.arn, kTopicArn);
    EXPECT_EQ(topic.events, std::vector<std::string>{"s3:ObjectRemoved:*"});
    EXPECT_FALSE(topic.id.empty()) << "an Id is generated when the document has none";
    EXPECT_FALSE(topic.prefix);
    EXPECT_FALSE(topic.suffix);
    const auto& function = config.rules[1];
    EXPECT_EQ(function.kind, DestinationKind::Function);
    EXPECT_EQ(function.id, "thumb");
    EXPECT_EQ(function.arn, kLambdaArn);
    EXPECT_EQ(function.events, std::vector<std::string>{"s3:ObjectCreated:*"});
    EXPECT_EQ(function.prefix, std::optional<std::string>("uploads/"));
    EXPECT_EQ(function.suffix, std::optional<std::string>(".jpg"));
}

TEST(NotificationConfig, NamespaceIsOptionalAndPrefixesAreIgnored) {
    std::string bare =
        "<NotificationConfiguration>" + rule_xml({}) + "</NotificationConfiguration>";
    auto a = parse(bare);
    ASSERT_TRUE(a.result) << failure_of(a);
    EXPECT_EQ(a.result->rules.size(), 1u);

    std::string prefixed =
        R"(<s3:NotificationConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">)"
        R"(<s3:TopicConfiguration><s3:Topic>)" +
        std::string(kTopicArn) +
        R"(</s3:Topic><s3:Event>s3:ObjectCreated:Put</s3:Event></s3:TopicConfiguration>)"
        R"(</s3:NotificationConfiguration>)";
    auto b = parse(prefixed);
    ASSERT_TRUE(b.result) << failure_of(b);
    ASSERT_EQ(b.result->rules.size(), 1u);
    EXPECT_EQ(b.result->rules[0].arn, kTopicArn);
}

TEST(NotificationConfig, CanonicalXmlRoundTripsAndKeepsIds) {
    auto first = parse(kBotocoreBody);
    ASSERT_TRUE(first.result);
    std::string xml = to_xml(*first.result);
    EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    EXPECT_NE(xml.find("<Id>thumb</Id>"), std::string::npos);
    EXPECT_NE(xml.find("<Id>" + first.result->rules[0].id + "</Id>"), std::string::npos);
    // S3 returns the filter names capitalised.
    EXPECT_NE(xml.find("<Name>Prefix</Name><Value>uploads/</Value>"), std::string::npos);
    EXPECT_NE(xml.find("<Name>Suffix</Name><Value>.jpg</Value>"), std::string::npos);
    EXPECT_NE(xml.find("<EventBridgeConfiguration"), std::string::npos);
    auto second = parse(xml);
    ASSERT_TRUE(second.result) << failure_of(second);
    EXPECT_EQ(*second.result, *first.result) << "the stored form parses back to the same rules";
    EXPECT_EQ(to_xml(*second.result), xml);
}

TEST(NotificationConfig, EmptyConfigurationIsTheEmptyElement) {
    std::string xml = to_xml({});
    EXPECT_NE(
        xml.find("<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""),
        std::string::npos);
    EXPECT_EQ(xml.find("</NotificationConfiguration>"), std::string::npos) << xml;
    auto parsed = parse(xml);
    ASSERT_TRUE(parsed.result) << failure_of(parsed);
    EXPECT_TRUE(parsed.result->rules.empty());
    EXPECT_FALSE(parsed.result->event_bridge);
}

TEST(NotificationConfig, TextIsEscapedInTheCanonicalForm) {
    RuleSpec spec;
    spec.id = "a&amp;b&lt;c";
    spec.filters = {{"prefix", "x&amp;y/"}};
    auto parsed = parse(document(rule_xml(spec)));
    ASSERT_TRUE(parsed.result) << failure_of(parsed);
    EXPECT_EQ(parsed.result->rules[0].id, "a&b<c");
    EXPECT_EQ(parsed.result->rules[0].prefix, std::optional<std::string>("x&y/"));
    auto again = parse(to_xml(*parsed.result));
    ASSERT_TRUE(again.result);
    EXPECT_EQ(*again.result, *parsed.result);
}

TEST(NotificationConfig, FilterRuleNamesAreCaseInsensitive) {
    RuleSpec spec;
    spec.filters = {{"Prefix", "in/"}, {"SUFFIX", ".png"}};
    auto parsed = parse(document(rule_xml(spec)));
    ASSERT_TRUE(parsed.result) << failure_of(parsed);
    EXPECT_EQ(parsed.result->rules[0].prefix, std::optional<std::string>("in/"));
    EXPECT_EQ(parsed.result->rules[0].suffix, std::optional<std::string>(".png"));
}

TEST(NotificationConfig, FilterRuleErrorsUseS3Wording) {
    auto with_filters = [](std::vector<std::pair<std::string, std::string>> filters) {
        RuleSpec spec;
        spec.filters = std::move(filters);
        return parse(document(rule_xml(spec)));
    };
    auto unknown = with_filters({{"contains", "x"}});
    EXPECT_EQ(failure_of(unknown),
              "InvalidArgument: filter rule name must be either prefix or suffix");
    EXPECT_EQ(unknown.arguments,
              (ErrorArguments{{"ArgumentName", "FilterRule.Name"}, {"ArgumentValue", "contains"}}));
    EXPECT_EQ(failure_of(with_filters({{"prefix", "a/"}, {"Prefix", "b/"}})),
              "InvalidArgument: Cannot specify more than one prefix rule in a filter.");
    EXPECT_EQ(failure_of(with_filters({{"suffix", ".a"}, {"Suffix", ".b"}})),
              "InvalidArgument: Cannot specify more than one suffix rule in a filter.");
    EXPECT_EQ(failure_of(with_filters({{"prefix", ""}})),
              "InvalidArgument: filter value cannot be empty");
    EXPECT_EQ(failure_of(with_filters({{"suffix", std::string(1025, 'x')}})),
              "InvalidArgument: Size of filter rule value cannot exceed 1024 bytes in UTF-8 "
              "representation");
    EXPECT_EQ(failure_of(with_filters({{"suffix", std::string(1024, 'x')}})), "OK");
}

TEST(NotificationConfig, EveryEventOfTheModelIsAccepted) {
    // The Event enum of the botocore S3 model.
    const std::vector<std::string> all = {"s3:ReducedRedundancyLostObject",
                                          "s3:ObjectCreated:*",
                                          "s3:ObjectCreated:Put",
                                          "s3:ObjectCreated:Post",
                                          "s3:ObjectCreated:Copy",
                                          "s3:ObjectCreated:CompleteMultipartUpload",
                                          "s3:ObjectRemoved:*",
                                          "s3:ObjectRemoved:Delete",
                                          "s3:ObjectRemoved:DeleteMarkerCreated",
                                          "s3:ObjectRestore:*",
                                          "s3:ObjectRestore:Post",
                                          "s3:ObjectRestore:Completed",
                                          "s3:Replication:*",
                                          "s3:Replication:OperationFailedReplication",
                                          "s3:Replication:OperationNotTracked",
                                          "s3:Replication:OperationMissedThreshold",
                                          "s3:Replication:OperationReplicatedAfterThreshold",
                                          "s3:ObjectRestore:Delete",
                                          "s3:LifecycleTransition",
                                          "s3:IntelligentTiering",
                                          "s3:ObjectAcl:Put",
                                          "s3:LifecycleExpiration:*",
                                          "s3:LifecycleExpiration:Delete",
                                          "s3:LifecycleExpiration:DeleteMarkerCreated",
                                          "s3:ObjectTagging:*",
                                          "s3:ObjectTagging:Put",
                                          "s3:ObjectTagging:Delete"};
    for (const auto& e : all) {
        EXPECT_TRUE(is_known_event(e)) << e;
    }
    RuleSpec spec;
    spec.events = all;
    auto parsed = parse(document(rule_xml(spec)));
    EXPECT_EQ(failure_of(parsed), "OK");
}

TEST(NotificationConfig, UnknownEventsAreInvalidArguments) {
    for (std::string bad : {"s3:ObjectCreated:Foo", "ObjectCreated:Put", "s3:ObjectAcl:*",
                            "s3:objectcreated:*", "s3:*", "s3:ObjectCreated", "s3:TestEvent", ""}) {
        RuleSpec spec;
        spec.events = {"s3:ObjectCreated:Put", bad};
        auto parsed = parse(document(rule_xml(spec)));
        EXPECT_EQ(failure_of(parsed),
                  "InvalidArgument: The event is not supported for notifications")
            << bad;
        EXPECT_EQ(parsed.arguments,
                  (ErrorArguments{{"ArgumentName", "Event"}, {"ArgumentValue", bad}}))
            << bad;
    }
}

TEST(NotificationConfig, StructuralProblemsAreMalformedXml) {
    const std::string malformed = std::string("MalformedXML: ") + kMalformedMessage;
    std::map<std::string, std::string> cases = {
        {"not xml", "this is not xml"},
        {"empty", ""},
        {"unclosed", "<NotificationConfiguration>"},
        {"wrong root", "<Notification>" + rule_xml({}) + "</Notification>"},
        {"sdk member name instead of the wire name",
         document(
             "<LambdaFunctionConfiguration><CloudFunction>" + std::string(kLambdaArn) +
             "</CloudFunction><Event>s3:ObjectCreated:*</Event></LambdaFunctionConfiguration>")},
        {"missing destination",
         document("<CloudFunctionConfiguration><Event>s3:ObjectCreated:*</Event>"
                  "</CloudFunctionConfiguration>")},
        {"missing event", document("<TopicConfiguration><Topic>" + std::string(kTopicArn) +
                                   "</Topic></TopicConfiguration>")},
        {"arn element of another kind",
         document("<TopicConfiguration><CloudFunction>" + std::string(kLambdaArn) +
                  "</CloudFunction><Event>s3:ObjectCreated:*</Event></TopicConfiguration>")},
        {"two ids",
         document("<TopicConfiguration><Id>a</Id><Id>b</Id><Topic>" + std::string(kTopicArn) +
                  "</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration>")},
        {"filter rule without value",
         document("<TopicConfiguration><Topic>" + std::string(kTopicArn) +
                  "</Topic><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>"
                  "prefix</Name></FilterRule></S3Key></Filter></TopicConfiguration>")},
        {"unknown filter element",
         document("<TopicConfiguration><Topic>" + std::string(kTopicArn) +
                  "</Topic><Event>s3:ObjectCreated:*</Event><Filter><Key/></Filter>"
                  "</TopicConfiguration>")},
        {"element inside a text element",
         document("<TopicConfiguration><Topic><b>x</b></Topic><Event>s3:ObjectCreated:*</Event>"
                  "</TopicConfiguration>")},
        {"doctype", "<!DOCTYPE x [<!ENTITY a \"b\">]>" + document("")},
        {"too deep", document("<TopicConfiguration><Filter><S3Key><FilterRule><Name><a><b><c><d>"
                              "</d></c></b></a></Name></FilterRule></S3Key></Filter>"
                              "</TopicConfiguration>")},
    };
    for (const auto& [name, xml] : cases) {
        EXPECT_EQ(failure_of(parse(xml)), malformed) << name;
    }
    // The depth limit is what refused the deep one (the log message says so).
    EXPECT_NE(parse(cases["too deep"]).result.error().message.find("levels deep"),
              std::string::npos);
}

TEST(NotificationConfig, LimitsOnSizeAndCounts) {
    std::string huge = document("<!--" + std::string(kMaxDocumentBytes, 'x') + "-->");
    EXPECT_EQ(parse(huge).result.error().code, ErrorCode::TooLarge);

    std::string many;
    for (std::size_t i = 0; i <= kMaxRules; ++i) {
        RuleSpec spec;
        spec.filters = {{"prefix", "p" + std::to_string(i) + "/"}};
        many += rule_xml(spec);
    }
    auto too_many = parse(document(many));
    EXPECT_EQ(too_many.result.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(failure_of(too_many).find("at most 100"), std::string::npos) << failure_of(too_many);

    RuleSpec long_id;
    long_id.id = std::string(kMaxIdBytes + 1, 'i');
    EXPECT_EQ(parse(document(rule_xml(long_id))).result.error().code, ErrorCode::InvalidArgument);
    long_id.id = std::string(kMaxIdBytes, 'i');
    EXPECT_EQ(failure_of(parse(document(rule_xml(long_id)))), "OK");
}

RuleSpec rule_for_kinds_test() {
    RuleSpec spec;
    spec.events = {"s3:ObjectCreated:*"};
    spec.filters = {{"prefix", "other/"}};
    return spec;
}

TEST(NotificationConfig, ArnsMustNameTheRightService) {
    auto with_arn = [](std::string element, std::string arn) {
        RuleSpec spec;
        spec.element = std::move(element);
        spec.arn = std::move(arn);
        return parse(document(rule_xml(spec)), ParseOptions{});
    };
    EXPECT_EQ(failure_of(with_arn("CloudFunctionConfiguration", kLambdaArn)), "OK");
    EXPECT_EQ(failure_of(with_arn("CloudFunctionConfiguration", std::string(kLambdaArn) + ":prod")),
              "OK");
    EXPECT_EQ(failure_of(with_arn("TopicConfiguration", kTopicArn)), "OK");
    EXPECT_EQ(failure_of(with_arn("QueueConfiguration", kQueueArn)), "OK");
    for (auto [element, arn] : std::vector<std::pair<std::string, std::string>>{
             {"CloudFunctionConfiguration", kTopicArn},
             {"CloudFunctionConfiguration", "arn:aws:lambda:us-east-1:123456789012:thumb"},
             {"CloudFunctionConfiguration", "arn:aws:lambda:us-east-1:123456789012:function:"},
             {"CloudFunctionConfiguration", "thumb"},
             {"TopicConfiguration", kLambdaArn},
             {"TopicConfiguration", "arn:aws:sns:us-east-1::t"},
             {"TopicConfiguration", "arn:aws:sns:us-east-1:123456789012:"},
             {"TopicConfiguration", "arn:aws:sns:us-east-1:123456789012:a b"},
             {"QueueConfiguration", kTopicArn}}) {
        auto outcome = with_arn(element, arn);
        EXPECT_EQ(failure_of(outcome), "InvalidArgument: The ARN is not well formed") << arn;
        ASSERT_EQ(outcome.arguments.size(), 2u);
        EXPECT_EQ(outcome.arguments[0].second, element.substr(0, element.find("Configuration")));
        EXPECT_EQ(outcome.arguments[1].second, arn);
    }
}

TEST(NotificationConfig, QueueConfigurationsAreAcceptedAndRoundTrip) {
    // What botocore sends for QueueConfigurations (QueueArn -> Queue, Events, a prefix filter).
    const std::string xml =
        document(R"(<QueueConfiguration><Id>fleet</Id><Queue>arn:aws:sqs:eu-west-1:123456789012:)"
                 R"(photo-jobs</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:)"
                 R"(Delete</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>uploads/)"
                 R"(</Value></FilterRule></S3Key></Filter></QueueConfiguration>)" +
                 rule_xml(rule_for_kinds_test()));
    auto parsed = parse(xml);
    ASSERT_TRUE(parsed.result) << failure_of(parsed);
    ASSERT_EQ(parsed.result->rules.size(), 2u);
    // Canonical order: topics, queues, functions.
    const auto& queue = parsed.result->rules[0];
    EXPECT_EQ(queue.kind, DestinationKind::Queue);
    EXPECT_EQ(queue.id, "fleet");
    EXPECT_EQ(queue.arn, "arn:aws:sqs:eu-west-1:123456789012:photo-jobs");
    EXPECT_EQ(queue.events, (std::vector<std::string>{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"}));
    EXPECT_EQ(queue.prefix, std::optional<std::string>("uploads/"));
    EXPECT_EQ(parsed.result->rules[1].kind, DestinationKind::Function);

    const std::string canonical = to_xml(*parsed.result);
    EXPECT_NE(canonical.find("<QueueConfiguration><Id>fleet</Id><Queue>arn:aws:sqs:eu-west-1:"
                             "123456789012:photo-jobs</Queue><Event>s3:ObjectCreated:*</Event>"
                             "<Event>s3:ObjectRemoved:Delete</Event><Filter><S3Key><FilterRule>"
                             "<Name>Prefix</Name><Value>uploads/</Value></FilterRule></S3Key>"
                             "</Filter></QueueConfiguration>"),
              std::string::npos)
        << canonical;
    EXPECT_LT(canonical.find("QueueConfiguration"), canonical.find("CloudFunctionConfiguration"));
    auto again = parse(canonical);
    ASSERT_TRUE(again.result) << failure_of(again);
    EXPECT_EQ(*again.result, *parsed.result);

    // A host that cannot deliver to SQS can still refuse them.
    ParseOptions no_queues;
    no_queues.allow_queue = false;
    auto refused = parse(xml, no_queues);
    EXPECT_EQ(failure_of(refused),
              "InvalidArgument: QueueConfiguration destinations are not supported by this server");
    EXPECT_EQ(refused.arguments,
              (ErrorArguments{{"ArgumentName", "Queue"},
                              {"ArgumentValue", "arn:aws:sqs:eu-west-1:123456789012:photo-jobs"}}));
}

TEST(NotificationConfig, QueueArnsHaveSqsShape) {
    auto with_queue = [](std::string arn) {
        RuleSpec spec;
        spec.element = "QueueConfiguration";
        spec.arn = std::move(arn);
        return parse(document(rule_xml(spec)));
    };
    EXPECT_EQ(failure_of(with_queue("arn:aws:sqs:us-east-1:123456789012:a-b_C9")), "OK");
    EXPECT_EQ(failure_of(with_queue("arn:aws:sqs:us-east-1:000000000000:" + std::string(80, 'q'))),
              "OK");
    for (const std::string& arn :
         {"arn:aws:sqs:us-east-1:123456789012:" + std::string(81, 'q'),
          std::string("arn:aws:sqs:us-east-1:123456789012:a.b"),
          std::string("arn:aws:sqs:us-east-1:123456789012:a:b"),
          std::string("arn:aws:sqs:US-EAST-1:123456789012:q"),
          std::string("arn:aws:sqs:us-east-1.evil.example:123456789012:q"),
          std::string("arn:aws:sqs::123456789012:q"), std::string("arn:aws:sqs:us-east-1::q"),
          std::string("arn:aws:sqs:us-east-1:123456789012:")}) {
        EXPECT_EQ(failure_of(with_queue(arn)), "InvalidArgument: The ARN is not well formed")
            << arn;
    }
    auto fifo = with_queue("arn:aws:sqs:us-east-1:123456789012:jobs.fifo");
    EXPECT_EQ(failure_of(fifo),
              "InvalidArgument: FIFO queues are not supported as S3 event notification "
              "destinations");
}

TEST(NotificationConfig, QueueAddressOfArn) {
    EXPECT_EQ(queue_address_of_arn("arn:aws:sqs:eu-west-1:123456789012:photo-jobs"),
              (QueueAddress{"eu-west-1", "123456789012", "photo-jobs"}));
    EXPECT_EQ(queue_address_of_arn("arn:aws-cn:sqs:cn-north-1:000000000000:q"),
              (QueueAddress{"cn-north-1", "000000000000", "q"}));
    EXPECT_EQ(queue_address_of_arn(kTopicArn), std::nullopt);
    EXPECT_EQ(queue_address_of_arn("arn:aws:sqs:us-east-1:123456789012:a/b"), std::nullopt);
    EXPECT_EQ(queue_address_of_arn("arn:aws:sqs:us-east-1:123456789012"), std::nullopt);
}

TEST(NotificationConfig, IdsAreGeneratedUniqueAndGivenOnesMustBeUnique) {
    std::string xml;
    for (int i = 0; i < 20; ++i) {
        RuleSpec spec;
        spec.filters = {{"prefix", "p" + std::to_string(i) + "/"}};
        if (i == 3)
            spec.id = "mine";
        xml += rule_xml(spec);
    }
    xml += "<TopicConfiguration><Id></Id><Topic>" + std::string(kTopicArn) +
           "</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>";
    auto parsed = parse(document(xml));
    ASSERT_TRUE(parsed.result) << failure_of(parsed);
    std::set<std::string> ids;
    for (const auto& rule : parsed.result->rules) {
        EXPECT_FALSE(rule.id.empty());
        EXPECT_LE(rule.id.size(), kMaxIdBytes);
        ids.insert(rule.id);
    }
    EXPECT_EQ(ids.size(), parsed.result->rules.size());
    EXPECT_TRUE(ids.contains("mine"));

    RuleSpec a, b;
    a.id = b.id = "same";
    a.filters = {{"prefix", "a/"}};
    b.filters = {{"prefix", "b/"}};
    auto duplicate = parse(document(rule_xml(a) + rule_xml(b)));
    EXPECT_EQ(duplicate.result.error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(duplicate.arguments,
              (ErrorArguments{{"ArgumentName", "Id"}, {"ArgumentValue", "same"}}));
}

struct OverlapCase {
    const char* name;
    RuleSpec a;
    RuleSpec b;
    // "" = accepted; otherwise the expected message start.
    std::string expected;
};

constexpr const char* kOverlap =
    "Configurations overlap. Configurations on the same bucket cannot share a common event type.";
constexpr const char* kAmbiguous =
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
    "prefixes are overlapping for the same event type.";

RuleSpec rule(std::vector<std::string> events,
              std::vector<std::pair<std::string, std::string>> filters,
              std::string element = "CloudFunctionConfiguration") {
    RuleSpec spec;
    spec.element = element;
    spec.arn = element == "TopicConfiguration"   ? kTopicArn
               : element == "QueueConfiguration" ? kQueueArn
                                                 : kLambdaArn;
    spec.events = std::move(events);
    spec.filters = std::move(filters);
    return spec;
}

class OverlapTest : public ::testing::TestWithParam<OverlapCase> {};

TEST_P(OverlapTest, Table) {
    const auto& c = GetParam();
    for (bool swapped : {false, true}) {
        auto outcome = parse(
            document(swapped ? rule_xml(c.b) + rule_xml(c.a) : rule_xml(c.a) + rule_xml(c.b)));
        if (c.expected.empty()) {
            EXPECT_EQ(failure_of(outcome), "OK") << c.name;
        } else {
            EXPECT_EQ(failure_of(outcome), "InvalidArgument: " + c.expected) << c.name;
            ASSERT_EQ(outcome.arguments.size(), 2u);
            EXPECT_EQ(outcome.arguments[0],
                      std::make_pair(std::string("ArgumentName"), std::string("Event")));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    NotificationConfig, OverlapTest,
    ::testing::Values(
        OverlapCase{"same event, no filters", rule({"s3:ObjectCreated:*"}, {}),
                    rule({"s3:ObjectCreated:*"}, {}), kOverlap},
        OverlapCase{"wildcard covers a subtype", rule({"s3:ObjectCreated:*"}, {}),
                    rule({"s3:ObjectCreated:Put"}, {}), kOverlap},
        OverlapCase{"across destination kinds", rule({"s3:ObjectCreated:Put"}, {}),
                    rule({"s3:ObjectCreated:Put"}, {}, "TopicConfiguration"), kOverlap},
        OverlapCase{"queue against function", rule({"s3:ObjectCreated:*"}, {}),
                    rule({"s3:ObjectCreated:Put"}, {}, "QueueConfiguration"), kOverlap},
        OverlapCase{"queue against topic, nested prefixes",
                    rule({"s3:ObjectRemoved:*"}, {{"prefix", "a/"}}, "QueueConfiguration"),
                    rule({"s3:ObjectRemoved:Delete"}, {{"prefix", "a/b"}}, "TopicConfiguration"),
                    kAmbiguous},
        OverlapCase{"queue and function on disjoint prefixes",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "uploads/"}}, "QueueConfiguration"),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "processed/"}}), ""},
        OverlapCase{"one common type among several",
                    rule({"s3:ObjectRemoved:Delete", "s3:ObjectCreated:Copy"}, {}),
                    rule({"s3:ObjectCreated:*"}, {}), kOverlap},
        OverlapCase{"different families", rule({"s3:ObjectCreated:*"}, {}),
                    rule({"s3:ObjectRemoved:*"}, {}), ""},
        OverlapCase{"different subtypes", rule({"s3:ObjectRemoved:Delete"}, {}),
                    rule({"s3:ObjectRemoved:DeleteMarkerCreated"}, {}), ""},
        OverlapCase{"nested prefixes", rule({"s3:ObjectCreated:*"}, {{"prefix", "images/"}}),
                    rule({"s3:ObjectCreated:Put"}, {{"prefix", "images/thumbs/"}}), kAmbiguous},
        OverlapCase{"equal prefixes", rule({"s3:ObjectCreated:*"}, {{"prefix", "images/"}}),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "images/"}}), kAmbiguous},
        OverlapCase{"disjoint prefixes", rule({"s3:ObjectCreated:*"}, {{"prefix", "images/"}}),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "videos/"}}), ""},
        OverlapCase{"prefix against no filter",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "images/"}}),
                    rule({"s3:ObjectCreated:*"}, {}), kAmbiguous},
        OverlapCase{"disjoint suffixes", rule({"s3:ObjectCreated:*"}, {{"suffix", ".jpg"}}),
                    rule({"s3:ObjectCreated:*"}, {{"suffix", ".png"}}), ""},
        OverlapCase{"nested suffixes", rule({"s3:ObjectCreated:*"}, {{"suffix", "jpg"}}),
                    rule({"s3:ObjectCreated:*"}, {{"suffix", ".jpg"}}), kAmbiguous},
        OverlapCase{"same prefix, disjoint suffixes",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}, {"suffix", ".jpg"}}),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}, {"suffix", ".png"}}), ""},
        OverlapCase{"disjoint prefixes, same suffix",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}, {"suffix", ".jpg"}}),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "b/"}, {"suffix", ".jpg"}}), ""},
        OverlapCase{"prefix-only against suffix-only",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}}),
                    rule({"s3:ObjectCreated:*"}, {{"suffix", ".jpg"}}), kAmbiguous},
        OverlapCase{"both ends overlap",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}, {"suffix", ".jpg"}}),
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/b/"}, {"suffix", "g"}}),
                    kAmbiguous},
        OverlapCase{"overlapping filters, different events",
                    rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}}),
                    rule({"s3:ObjectRemoved:*"}, {{"prefix", "a/"}}), ""}),
    [](const ::testing::TestParamInfo<OverlapCase>& param) {
        std::string name = param.param.name;
        for (auto& c : name) {
            if (!std::isalnum(static_cast<unsigned char>(c)))
                c = '_';
        }
        return name;
    });

TEST(NotificationConfig, OverlapReportsTheSharedEventNames) {
    auto outcome =
        parse(document(rule_xml(rule({"s3:ObjectRemoved:*"}, {})) +
                       rule_xml(rule({"s3:ObjectRemoved:*"}, {}, "TopicConfiguration"))));
    EXPECT_EQ(outcome.arguments,
              (ErrorArguments{{"ArgumentName", "Event"},
                              {"ArgumentValue", "s3:ObjectRemoved:*, s3:ObjectRemoved:*"}}));
    // Stored documents are read without the rule (routing follows what is there).
    ParseOptions stored;
    stored.check_overlap = false;
    auto lenient = parse(document(rule_xml(rule({"s3:ObjectRemoved:*"}, {})) +
                                  rule_xml(rule({"s3:ObjectRemoved:*"}, {}, "TopicConfiguration"))),
                         stored);
    EXPECT_EQ(failure_of(lenient), "OK");
}

TEST(NotificationConfig, DestinationsAreCheckedOnceEachAndAllFailuresListed) {
    RuleSpec f = rule({"s3:ObjectCreated:*"}, {{"prefix", "a/"}});
    RuleSpec f2 = rule({"s3:ObjectCreated:*"}, {{"prefix", "b/"}});  // same ARN again
    RuleSpec t = rule({"s3:ObjectRemoved:*"}, {}, "TopicConfiguration");
    RuleSpec missing = rule({"s3:ObjectCreated:*"}, {{"prefix", "c/"}});
    missing.arn = "arn:aws:lambda:us-east-1:123456789012:function:gone";
    std::string xml = document(rule_xml(f) + rule_xml(f2) + rule_xml(t) + rule_xml(missing));

    std::vector<std::pair<DestinationKind, std::string>> asked;
    ParseOptions options;
    options.check_destination = [&](DestinationKind kind, const std::string& arn) {
        asked.emplace_back(kind, arn);
        return true;
    };
    EXPECT_EQ(failure_of(parse(xml, options)), "OK");
    EXPECT_EQ(asked.size(), 3u) << "each distinct destination is checked once";
    EXPECT_EQ(asked[0], std::make_pair(DestinationKind::Topic, std::string(kTopicArn)));

    options.check_destination = [&](DestinationKind, const std::string& arn) {
        return arn == kLambdaArn;
    };
    auto refused = parse(xml, options);
    EXPECT_EQ(failure_of(refused),
              "InvalidArgument: Unable to validate the following destination configurations");
    ASSERT_EQ(refused.arguments.size(), 4u);
    EXPECT_EQ(refused.arguments[0],
              std::make_pair(std::string("ArgumentName1"), std::string(kTopicArn)));
    EXPECT_EQ(refused.arguments[1].first, "ArgumentValue1");
    EXPECT_EQ(refused.arguments[2], std::make_pair(std::string("ArgumentName2"), missing.arn));
    EXPECT_NE(refused.arguments[3].second.find(missing.arn), std::string::npos);

    // Without a check (x-amz-skip-destination-validation, stored documents) anything goes.
    EXPECT_EQ(failure_of(parse(xml)), "OK");

    // Queues are checked like the others, with S3's reason for a queue.
    RuleSpec q = rule({"s3:ObjectCreated:*"}, {{"prefix", "q/"}}, "QueueConfiguration");
    std::string with_queue = document(rule_xml(f) + rule_xml(q));
    std::vector<DestinationKind> kinds;
    options.check_destination = [&](DestinationKind kind, const std::string&) {
        kinds.push_back(kind);
        return kind != DestinationKind::Queue;
    };
    auto no_queue = parse(with_queue, options);
    EXPECT_EQ(failure_of(no_queue),
              "InvalidArgument: Unable to validate the following destination configurations");
    EXPECT_EQ(kinds, (std::vector<DestinationKind>{DestinationKind::Queue, DestinationKind::Function}));
    ASSERT_EQ(no_queue.arguments.size(), 2u);
    EXPECT_EQ(no_queue.arguments[0], std::make_pair(std::string("ArgumentName1"), std::string(kQueueArn)));
    EXPECT_EQ(no_queue.arguments[1].second,
              "The destination queue does not exist or does not allow S3 to send notifications "
              "from this bucket");
}

TEST(NotificationConfig, EventMatching) {
    EXPECT_TRUE(event_matches("s3:ObjectCreated:*", "ObjectCreated:Put"));
    EXPECT_TRUE(event_matches("s3:ObjectCreated:*", "ObjectCreated:CompleteMultipartUpload"));
    EXPECT_TRUE(event_matches("s3:ObjectCreated:Copy", "ObjectCreated:Copy"));
    EXPECT_TRUE(event_matches("s3:ObjectRemoved:*", "ObjectRemoved:Delete"));
    EXPECT_TRUE(event_matches("s3:LifecycleTransition", "LifecycleTransition"));
    EXPECT_FALSE(event_matches("s3:ObjectCreated:Put", "ObjectCreated:Post"));
    EXPECT_FALSE(event_matches("s3:ObjectCreated:*", "ObjectRemoved:Delete"));
    EXPECT_FALSE(event_matches("s3:ObjectCreated:*", "ObjectCreated:"));
    EXPECT_FALSE(event_matches("s3:ObjectCreated:*", "ObjectCreatedX:Put"));
    EXPECT_FALSE(event_matches("ObjectCreated:Put", "ObjectCreated:Put")) << "needs the s3: prefix";
    EXPECT_FALSE(event_matches("s3:ObjectCreated:Put", ""));
}

TEST(NotificationConfig, KeyFilters) {
    NotificationRule r;
    EXPECT_TRUE(key_matches(r, "anything"));
    r.prefix = "uploads/";
    r.suffix = ".jpg";
    EXPECT_TRUE(key_matches(r, "uploads/cat.jpg"));
    EXPECT_FALSE(key_matches(r, "uploads/cat.JPG")) << "keys compare case-sensitively";
    EXPECT_FALSE(key_matches(r, "thumbs/cat.jpg"));
    EXPECT_FALSE(key_matches(r, "uploads/cat.png"));
    EXPECT_FALSE(key_matches(r, "uploads"));
}

TEST(NotificationConfig, DestinationKindOfArn) {
    EXPECT_EQ(destination_kind_of_arn(kLambdaArn), DestinationKind::Function);
    EXPECT_EQ(destination_kind_of_arn(kTopicArn), DestinationKind::Topic);
    EXPECT_EQ(destination_kind_of_arn(kQueueArn), DestinationKind::Queue);
    EXPECT_EQ(destination_kind_of_arn("arn:aws:s3:::bucket"), std::nullopt);
    EXPECT_EQ(destination_kind_of_arn("lambda"), std::nullopt);
    EXPECT_EQ(to_string(DestinationKind::Topic), "topic");
}

}  // namespace
}  // namespace pf::events
