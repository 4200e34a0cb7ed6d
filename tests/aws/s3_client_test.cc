// S3Client against an in-test transport: the requests it signs (checked against the published
// SigV4 vectors), the URLs it builds, and how it retries, backs off, corrects clock skew, pages
// listings and runs multipart uploads.
#include "aws/s3_client.h"

#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "crypto/digest.h"
#include "fake_transport.h"

#include <gtest/gtest.h>

#include <set>

namespace pf::aws {
namespace {

using namespace std::chrono_literals;
using test::answer;
using test::FakeTransport;
using test::s3_error;
using test::StringSink;
using test::StringSource;

constexpr std::string_view kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

SystemTime example_time() {
    return *parse_amz_date("20130524T000000Z");
}

// The documentation's setup: virtual-hosted examplebucket on s3.amazonaws.com, 2013-05-24.
S3ClientOptions example_options() {
    S3ClientOptions options;
    options.endpoint = {"https://s3.amazonaws.com", false};
    options.region = "us-east-1";
    options.credentials = {std::string(kAccessKey), std::string(kSecret), ""};
    options.path_style = false;
    options.clock = [] { return example_time(); };
    options.sleep = [](std::chrono::milliseconds) {};
    return options;
}

S3PutRequest put_request(std::string bucket, std::string key) {
    S3PutRequest request;
    request.bucket = std::move(bucket);
    request.key = std::move(key);
    return request;
}

// A local path-style endpoint with recorded sleeps.
struct LocalSetup {
    FakeTransport transport;
    std::vector<std::chrono::milliseconds> sleeps;
    S3ClientOptions options() {
        S3ClientOptions o;
        o.endpoint = {"http://127.0.0.1:9000", true};
        o.credentials = {"AK", "SK", ""};
        o.clock = [] { return example_time(); };
        o.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
        return o;
    }
};

TEST(S3Client, GetIsSignedExactlyLikeTheDocumentedExample) {
    FakeTransport transport;
    transport.then(answer(206, "0123456789", {{"content-length", "10"}, {"etag", "\"abc\""}}));
    S3Client client(transport, example_options());
    StringSink sink;
    auto head = client.get_object(S3GetRequest{"examplebucket", "test.txt", std::nullopt, "bytes=0-9"},
                                  sink);
    ASSERT_TRUE(head.has_value()) << head.error().message;
    EXPECT_EQ(sink.text, "0123456789");
    EXPECT_EQ(head->size, 10u);
    EXPECT_EQ(head->etag, "abc");

    ASSERT_EQ(transport.calls.size(), 1u);
    const auto& call = transport.calls[0];
    EXPECT_EQ(call.request.method, "GET");
    EXPECT_EQ(call.request.url, "https://examplebucket.s3.amazonaws.com/test.txt");
    EXPECT_TRUE(call.had_sink);
    EXPECT_FALSE(call.header("host").has_value()) << "Host belongs to the transport";
    EXPECT_EQ(call.header("range"), "bytes=0-9");
    EXPECT_EQ(call.header("x-amz-date"), "20130524T000000Z");
    EXPECT_EQ(call.header("x-amz-content-sha256"), std::string(kEmptySha256));
    // Sheet 2.7 vector 1.
    EXPECT_EQ(call.header("authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Client, SessionTokenIsSentAndSigned) {
    FakeTransport transport;
    transport.then(answer(206, "0123456789", {{"content-length", "10"}}));
    S3ClientOptions options = example_options();
    options.credentials.session_token = "IQoJb3JpZ2luX2VjE/token+with=chars";
    S3Client client(transport, options);
    StringSink sink;
    ASSERT_TRUE(client.get_object(S3GetRequest{"examplebucket", "test.txt", std::nullopt, "bytes=0-9"},
                                  sink));
    const auto& call = transport.calls.at(0);
    EXPECT_EQ(call.header("x-amz-security-token"), options.credentials.session_token);

    // Vector 1's canonical request with the token line added: what a verifier recomputes.
    const std::string canonical =
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjE/token+with=chars\n\n"
        "host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const CredentialScope scope{"20130524", "us-east-1", "s3"};
    const std::string expected =
        signature(signing_key(kSecret, scope), string_to_sign("20130524T000000Z", scope, canonical));
    EXPECT_EQ(call.header("authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
              "Signature=" + expected);
    // And it is not vector 1's signature: the token is covered.
    EXPECT_EQ(call.header("authorization")->find("f0e8bdb87c96"), std::string::npos);
}

TEST(S3Client, InMemoryBodiesAreSignedWithTheirSha256AndKeysEncodedOnce) {
    FakeTransport transport;
    transport.then(answer(200, "", {{"etag", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}}));
    S3Client client(transport, example_options());
    auto etag = client.put_object({"examplebucket", "test$file.text", "text/plain", {}, ""},
                                  "Welcome to Amazon S3.");
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(*etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    const auto& call = transport.calls.at(0);
    EXPECT_EQ(call.request.method, "PUT");
    EXPECT_EQ(call.request.url, "https://examplebucket.s3.amazonaws.com/test%24file.text");
    EXPECT_EQ(call.request.body, "Welcome to Amazon S3.");
    // Sheet 2.7 vector 2's payload hash.
    EXPECT_EQ(call.header("x-amz-content-sha256"),
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    EXPECT_EQ(call.header("content-type"), "text/plain");
}

TEST(S3Client, PathStyleUrlsKeepSlashesAndEncodeEverythingElse) {
    LocalSetup setup;
    setup.transport.then(answer(200, "", {{"etag", "\"e\""}}));
    S3Client client(setup.transport, setup.options());
    S3PutRequest put{"photos", "in/a b+c \xc3\xa9/x..y/../z.jpg", "image/jpeg",
                     {{"Owner", "bob smith"}, {"source", "camera"}}, "max-age=60"};
    ASSERT_TRUE(client.put_object(put, "jpeg bytes"));
    const auto& call = setup.transport.calls.at(0);
    EXPECT_EQ(call.request.url,
              "http://127.0.0.1:9000/photos/in/a%20b%2Bc%20%C3%A9/x..y/../z.jpg");
    EXPECT_EQ(call.header("x-amz-meta-owner"), "bob smith");
    EXPECT_EQ(call.header("x-amz-meta-source"), "camera");
    EXPECT_EQ(call.header("cache-control"), "max-age=60");
    auto auth = parse_authorization_header(*call.header("authorization"));
    ASSERT_TRUE(auth.has_value());
    const std::vector<std::string> expected = {"cache-control",        "content-type", "host",
                                               "x-amz-content-sha256", "x-amz-date",
                                               "x-amz-meta-owner",     "x-amz-meta-source"};
    EXPECT_EQ(auth->signed_headers, expected);
}

TEST(S3Client, VirtualHostingFallsBackToPathStyleWhereItCannotWork) {
    FakeTransport transport;
    transport.otherwise([](const auto&, ByteSink*) { return answer(204); });
    S3ClientOptions options = example_options();
    S3Client client(transport, options);
    ASSERT_TRUE(client.delete_object("my.dotted.bucket", "k"));  // https + dots: wildcard cert
    ASSERT_TRUE(client.delete_object("Upper_Case", "k"));        // not a DNS label
    options.endpoint = {"http://127.0.0.1:9000", true};
    S3Client ip_client(transport, options);
    ASSERT_TRUE(ip_client.delete_object("photos", "k"));  // IP endpoints have no subdomains
    ASSERT_EQ(transport.calls.size(), 3u);
    EXPECT_EQ(transport.calls[0].request.url, "https://s3.amazonaws.com/my.dotted.bucket/k");
    EXPECT_EQ(transport.calls[1].request.url, "https://s3.amazonaws.com/Upper_Case/k");
    EXPECT_EQ(transport.calls[2].request.url, "http://127.0.0.1:9000/photos/k");
}

TEST(S3Client, StreamedBodiesAreUnsignedPayloadAndStreamedThrough) {
    LocalSetup setup;
    setup.transport.then(answer(200, "", {{"etag", "\"e1\""}}));
    S3Client client(setup.transport, setup.options());
    const std::string data(100'000, 'x');
    StringSource source(data);
    auto etag = client.put_object(put_request("photos", "big.bin"), source, data.size());
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    const auto& call = setup.transport.calls.at(0);
    EXPECT_EQ(call.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    EXPECT_EQ(call.request.body, "");
    EXPECT_EQ(call.request.body_length, data.size());
    EXPECT_EQ(call.streamed_body, data);
}

TEST(S3Client, RetriesServerErrorsAndThrottlingWithGrowingJitteredDelays) {
    LocalSetup setup;
    setup.transport.then(answer(500, s3_error("InternalError", "We encountered an internal error.")));
    setup.transport.then(answer(503, s3_error("SlowDown", "Please reduce your request rate.")));
    setup.transport.then(answer(200, "", {{"etag", "\"ok\""}}));
    S3ClientOptions options = setup.options();
    options.retry = {4, 100ms, 5000ms};
    S3Client client(setup.transport, options);
    auto etag = client.put_object(put_request("photos", "a.jpg"), "x");
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(setup.transport.calls.size(), 3u);
    ASSERT_EQ(setup.sleeps.size(), 2u);
    EXPECT_LE(setup.sleeps[0], 100ms);
    EXPECT_LE(setup.sleeps[1], 200ms);
    // Each attempt is signed anew (same clock here, so the same date).
    EXPECT_TRUE(setup.transport.calls[2].header("authorization").has_value());
}

TEST(S3Client, GivesUpAfterMaxAttemptsAsUnavailable) {
    LocalSetup setup;
    setup.transport.otherwise([](const auto&, ByteSink*) {
        return answer(503, s3_error("SlowDown", "Please reduce your request rate."));
    });
    S3Client client(setup.transport, setup.options());
    auto etag = client.put_object(put_request("photos", "a.jpg"), "x");
    ASSERT_FALSE(etag.has_value());
    EXPECT_EQ(etag.error().code, ErrorCode::Unavailable);
    EXPECT_TRUE(etag.error().retryable());
    EXPECT_EQ(etag.error().message.rfind("SlowDown: Please reduce your request rate. (PUT photos/a.jpg, "
                                         "HTTP 503, request id REQ123)", 0),
              0u)
        << etag.error().message;
    EXPECT_NE(etag.error().message.find("gave up after 4 attempts"), std::string::npos);
    EXPECT_EQ(setup.transport.calls.size(), 4u);
    EXPECT_EQ(setup.sleeps.size(), 3u);
}

TEST(S3Client, BackoffIsFullJitterUnderTheCap) {
    LocalSetup setup;
    setup.transport.otherwise([](const auto&, ByteSink*) { return answer(500); });
    S3ClientOptions options = setup.options();
    options.retry = {60, 100ms, 250ms};
    S3Client client(setup.transport, options);
    ASSERT_FALSE(client.head_object("photos", "a.jpg"));
    ASSERT_EQ(setup.sleeps.size(), 59u);
    std::set<long long> distinct;
    for (std::size_t i = 0; i < setup.sleeps.size(); ++i) {
        const long long ceiling = std::min<long long>(250, 100LL << std::min<std::size_t>(i, 10));
        EXPECT_GE(setup.sleeps[i].count(), 0);
        EXPECT_LE(setup.sleeps[i].count(), ceiling) << "retry " << i;
        distinct.insert(setup.sleeps[i].count());
    }
    EXPECT_GT(distinct.size(), 10u) << "delays are drawn at random, not fixed";
}

TEST(S3Client, ClientErrorsAreNeverRetriedAndMapToCodes) {
    struct Case {
        int status;
        std::string code;
        ErrorCode expected;
    };
    const std::vector<Case> cases = {
        {404, "NoSuchKey", ErrorCode::NotFound},
        {404, "NoSuchBucket", ErrorCode::NotFound},
        {412, "PreconditionFailed", ErrorCode::PreconditionFailed},
        {403, "AccessDenied", ErrorCode::Forbidden},
        {403, "SignatureDoesNotMatch", ErrorCode::Forbidden},
        {400, "InvalidArgument", ErrorCode::InvalidArgument},
        {400, "RequestTimeout", ErrorCode::InvalidArgument},
        {409, "BucketNotEmpty", ErrorCode::InvalidArgument},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.code);
        LocalSetup setup;
        setup.transport.then(answer(c.status, s3_error(c.code, "text for " + c.code)));
        S3Client client(setup.transport, setup.options());
        StringSink sink;
        auto got = client.get_object("photos", "in/x.jpg", sink);
        ASSERT_FALSE(got.has_value());
        EXPECT_EQ(got.error().code, c.expected);
        EXPECT_EQ(got.error().message.rfind(c.code + ": text for " + c.code + " (GET photos/in/x.jpg, HTTP " +
                                                std::to_string(c.status),
                                            0),
                  0u)
            << got.error().message;
        EXPECT_EQ(got.error().client_message(), c.code + ": text for " + c.code);
        EXPECT_EQ(setup.transport.calls.size(), 1u);
        EXPECT_TRUE(setup.sleeps.empty());
        EXPECT_TRUE(sink.text.empty()) << "an error document never reaches the sink";
    }
}

TEST(S3Client, HeadErrorsWithoutBodyAreNamedByStatus) {
    LocalSetup setup;
    setup.transport.then(answer(404, "", {{"x-amz-request-id", "R9"}}));
    S3Client client(setup.transport, setup.options());
    auto head = client.head_object("photos", "missing.jpg");
    ASSERT_FALSE(head.has_value());
    EXPECT_EQ(head.error().code, ErrorCode::NotFound);
    EXPECT_EQ(head.error().message, "NotFound (HEAD photos/missing.jpg, HTTP 404, request id R9)");
}

TEST(S3Client, NetworkErrorsAreRetriedButPermanentTransportErrorsAreNot) {
    LocalSetup setup;
    setup.transport.then(make_error(ErrorCode::Unavailable, "connection refused"));
    setup.transport.then(make_error(ErrorCode::Timeout, "timed out"));
    setup.transport.then(answer(200, "", {{"content-length", "3"}, {"etag", "\"e\""}}));
    S3Client client(setup.transport, setup.options());
    auto head = client.head_object("photos", "a.jpg");
    ASSERT_TRUE(head.has_value()) << head.error().message;
    EXPECT_EQ(head->size, 3u);
    EXPECT_EQ(setup.transport.calls.size(), 3u);
    EXPECT_EQ(setup.sleeps.size(), 2u);

    LocalSetup bad;
    bad.transport.then(make_error(ErrorCode::InvalidArgument, "invalid URL"));
    S3Client bad_client(bad.transport, bad.options());
    auto failed = bad_client.head_object("photos", "a.jpg");
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(bad.transport.calls.size(), 1u);
}

TEST(S3Client, AFailureAfterBytesReachedTheSinkIsNotRetried) {
    LocalSetup setup;
    setup.transport.then_do([](const auto&, ByteSink* sink) -> Result<TransportResponse> {
        (void)sink->write(std::string_view("abc"));
        return make_error(ErrorCode::Unavailable, "connection reset");
    });
    S3Client client(setup.transport, setup.options());
    StringSink sink;
    auto got = client.get_object("photos", "a.jpg", sink);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, ErrorCode::Unavailable);
    EXPECT_EQ(setup.transport.calls.size(), 1u);
}

TEST(S3Client, AShortBodyIsAnError) {
    LocalSetup setup;
    setup.transport.then(answer(200, "abc", {{"content-length", "10"}}));
    S3Client client(setup.transport, setup.options());
    StringSink sink;
    auto got = client.get_object("photos", "a.jpg", sink);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, ErrorCode::Unavailable);
}

TEST(S3Client, ClockSkewIsCorrectedFromTheServersDate) {
    LocalSetup setup;
    const SystemTime server_time = example_time() + 2h + 17s;
    setup.transport.then(answer(403,
                                s3_error("RequestTimeTooSkewed",
                                         "The difference between the request time and the "
                                         "current time is too large."),
                                {{"date", format_http_date(server_time)}}));
    setup.transport.then(answer(200, "", {{"etag", "\"e\""}}));
    setup.transport.then(answer(200, "", {{"etag", "\"e\""}}));
    S3Client client(setup.transport, setup.options());
    ASSERT_TRUE(client.put_object(put_request("photos", "a.jpg"), "x"));
    ASSERT_EQ(setup.transport.calls.size(), 2u);
    EXPECT_EQ(setup.transport.calls[0].header("x-amz-date"), "20130524T000000Z");
    EXPECT_EQ(setup.transport.calls[1].header("x-amz-date"), format_amz_date(server_time));
    EXPECT_TRUE(setup.sleeps.empty()) << "a skew correction re-signs at once";
    EXPECT_EQ(client.clock_offset(), std::chrono::milliseconds(2h + 17s));
    // Later requests keep the corrected clock.
    ASSERT_TRUE(client.put_object(put_request("photos", "b.jpg"), "y"));
    EXPECT_EQ(setup.transport.calls[2].header("x-amz-date"), format_amz_date(server_time));
}

TEST(S3Client, PersistentSkewIsForbiddenNotALoop) {
    LocalSetup setup;
    setup.transport.otherwise([](const auto&, ByteSink*) {
        return answer(403, s3_error("RequestTimeTooSkewed", "too skewed"),
                      {{"date", "Sun, 29 Nov 2026 11:57:44 GMT"}});
    });
    S3Client client(setup.transport, setup.options());
    auto got = client.put_object(put_request("photos", "a.jpg"), "x");
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, ErrorCode::Forbidden);
    EXPECT_EQ(setup.transport.calls.size(), 2u);
}

TEST(S3Client, IfMatchIsQuoted) {
    LocalSetup setup;
    setup.transport.then(answer(412, s3_error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")));
    S3Client client(setup.transport, setup.options());
    StringSink sink;
    auto got = client.get_object("photos", "a.jpg", sink, std::string("abc123"));
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(setup.transport.calls.at(0).header("if-match"), "\"abc123\"");
}

TEST(S3Client, HeadReadsSizeEtagTypeAndMetadata) {
    LocalSetup setup;
    setup.transport.then(answer(200, "",
                                {{"content-length", "1234"},
                                 {"etag", "\"d41d8cd98f00b204e9800998ecf8427e-2\""},
                                 {"content-type", "image/jpeg"},
                                 {"x-amz-meta-owner", "bob"},
                                 {"x-amz-meta-recipe-version", "3"}}));
    S3Client client(setup.transport, setup.options());
    auto head = client.head_object("photos", "a.jpg");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->size, 1234u);
    EXPECT_EQ(head->etag, "d41d8cd98f00b204e9800998ecf8427e-2");
    EXPECT_EQ(head->content_type, "image/jpeg");
    EXPECT_EQ(head->metadata_value("owner"), "bob");
    EXPECT_EQ(head->metadata_value("recipe-version"), "3");
    EXPECT_EQ(setup.transport.calls.at(0).request.method, "HEAD");
}

std::string list_page(const std::vector<std::string>& keys, bool truncated, const std::string& next) {
    std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>photos</Name>";
    for (const auto& key : keys) {
        xml += "<Contents><Key>" + key + "</Key><LastModified>2026-11-29T11:57:44.000Z</LastModified>"
               "<ETag>&quot;etag-" + key + "&quot;</ETag><Size>" + std::to_string(key.size()) +
               "</Size><StorageClass>STANDARD</StorageClass></Contents>";
    }
    xml += std::string("<IsTruncated>") + (truncated ? "true" : "false") + "</IsTruncated>";
    if (!next.empty()) {
        xml += "<NextContinuationToken>" + next + "</NextContinuationToken>";
    }
    return xml + "</ListBucketResult>";
}

TEST(S3Client, ListFollowsContinuationTokensAcrossPages) {
    LocalSetup setup;
    setup.transport.then(answer(200, list_page({"in/a.jpg", "in/b &amp; c.jpg"}, true, "tok/1+=")));
    setup.transport.then(answer(200, list_page({"in/d.jpg"}, false, "")));
    S3ClientOptions options = setup.options();
    options.list_page_size = 2;
    S3Client client(setup.transport, options);
    auto entries = client.list_objects("photos", "in/");
    ASSERT_TRUE(entries.has_value()) << entries.error().message;
    ASSERT_EQ(entries->size(), 3u);
    EXPECT_EQ((*entries)[0].key, "in/a.jpg");
    EXPECT_EQ((*entries)[0].etag, "etag-in/a.jpg");
    EXPECT_EQ((*entries)[0].size, 8u);
    EXPECT_EQ((*entries)[1].key, "in/b & c.jpg");
    EXPECT_EQ((*entries)[2].key, "in/d.jpg");
    ASSERT_EQ(setup.transport.calls.size(), 2u);
    EXPECT_EQ(setup.transport.calls[0].request.url,
              "http://127.0.0.1:9000/photos?list-type=2&max-keys=2&prefix=in%2F");
    EXPECT_EQ(setup.transport.calls[1].request.url,
              "http://127.0.0.1:9000/photos?list-type=2&max-keys=2&prefix=in%2F"
              "&continuation-token=tok%2F1%2B%3D");
}

TEST(S3Client, ListRefusesATruncatedPageWithoutANewToken) {
    LocalSetup setup;
    setup.transport.otherwise([](const auto&, ByteSink*) {
        return answer(200, list_page({"a"}, true, "same"));
    });
    S3Client client(setup.transport, setup.options());
    auto entries = client.list_objects("photos", "");
    ASSERT_FALSE(entries.has_value());
    EXPECT_EQ(entries.error().code, ErrorCode::Internal);
    EXPECT_EQ(setup.transport.calls.size(), 2u);
}

TEST(S3Client, ListStopsAtTheEntryLimit) {
    LocalSetup setup;
    int page = 0;
    setup.transport.otherwise([&](const auto&, ByteSink*) {
        ++page;
        return answer(200, list_page({"k" + std::to_string(page)}, true, "t" + std::to_string(page)));
    });
    S3ClientOptions options = setup.options();
    options.max_list_entries = 5;
    S3Client client(setup.transport, options);
    auto entries = client.list_objects("photos", "");
    ASSERT_FALSE(entries.has_value());
    EXPECT_EQ(entries.error().code, ErrorCode::LimitExceeded);
    EXPECT_EQ(page, 6);
}

std::string query_of(const std::string& url) {
    const auto q = url.find('?');
    return q == std::string::npos ? "" : url.substr(q + 1);
}

TEST(S3Client, LargeBodiesGoMultipartInOrder) {
    LocalSetup setup;
    S3ClientOptions options = setup.options();
    options.multipart_threshold = 6u << 20;
    options.part_size = 1u << 20;  // raised to S3's 5 MiB minimum
    std::string body((11u << 20) + 3, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) {
        body[i] = static_cast<char>('a' + i % 26);
    }
    setup.transport.then(answer(200,
                                "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                "<Bucket>photos</Bucket><Key>big.bin</Key><UploadId>UP+1/x</UploadId>"
                                "</InitiateMultipartUploadResult>"));
    for (int part = 1; part <= 3; ++part) {
        setup.transport.then(answer(200, "", {{"etag", "\"part" + std::to_string(part) + "\""}}));
    }
    setup.transport.then(answer(200,
                                "<CompleteMultipartUploadResult><Bucket>photos</Bucket><Key>big.bin</Key>"
                                "<ETag>&quot;3858f62230ac3c915f300c664312c11f-3&quot;</ETag>"
                                "</CompleteMultipartUploadResult>"));
    S3Client client(setup.transport, options);
    auto etag = client.put_object({"photos", "big.bin", "application/octet-stream", {{"a", "b"}}, ""}, body);
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(*etag, "3858f62230ac3c915f300c664312c11f-3");

    const auto& calls = setup.transport.calls;
    ASSERT_EQ(calls.size(), 5u);
    EXPECT_EQ(calls[0].request.method, "POST");
    EXPECT_EQ(query_of(calls[0].request.url), "uploads");
    EXPECT_EQ(calls[0].header("x-amz-meta-a"), "b");
    std::string reassembled;
    for (int part = 1; part <= 3; ++part) {
        const auto& call = calls[static_cast<std::size_t>(part)];
        EXPECT_EQ(call.request.method, "PUT");
        EXPECT_EQ(query_of(call.request.url), "partNumber=" + std::to_string(part) + "&uploadId=UP%2B1%2Fx");
        EXPECT_EQ(call.header("x-amz-content-sha256"), crypto::sha256_hex(call.request.body));
        reassembled += call.request.body;
    }
    EXPECT_EQ(calls[1].request.body.size(), 5u << 20);
    EXPECT_EQ(calls[3].request.body.size(), (1u << 20) + 3);
    EXPECT_EQ(reassembled, body);
    EXPECT_EQ(calls[4].request.method, "POST");
    EXPECT_EQ(query_of(calls[4].request.url), "uploadId=UP%2B1%2Fx");
    EXPECT_EQ(calls[4].request.body,
              "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
              "<Part><ETag>&quot;part1&quot;</ETag><PartNumber>1</PartNumber></Part>"
              "<Part><ETag>&quot;part2&quot;</ETag><PartNumber>2</PartNumber></Part>"
              "<Part><ETag>&quot;part3&quot;</ETag><PartNumber>3</PartNumber></Part>"
              "</CompleteMultipartUpload>");
}

TEST(S3Client, AFailedPartAbortsTheUpload) {
    LocalSetup setup;
    S3ClientOptions options = setup.options();
    options.multipart_threshold = 1;
    setup.transport.then(answer(200, "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>"));
    setup.transport.then(answer(200, "", {{"etag", "\"p1\""}}));
    setup.transport.then(answer(400, s3_error("InvalidArgument", "bad part")));
    setup.transport.then(answer(204));
    S3Client client(setup.transport, options);
    const std::string body((5u << 20) + 10, 'z');
    auto etag = client.put_object(put_request("photos", "big.bin"), body);
    ASSERT_FALSE(etag.has_value());
    EXPECT_EQ(etag.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(etag.error().message.find("bad part"), std::string::npos);
    ASSERT_EQ(setup.transport.calls.size(), 4u);
    EXPECT_EQ(setup.transport.calls[3].request.method, "DELETE");
    EXPECT_EQ(query_of(setup.transport.calls[3].request.url), "uploadId=U1");
}

TEST(S3Client, AnErrorInsideA200CompleteIsRetried) {
    LocalSetup setup;
    S3ClientOptions options = setup.options();
    options.multipart_threshold = 1;
    setup.transport.then(answer(200, "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>"));
    setup.transport.then(answer(200, "", {{"etag", "\"p1\""}}));
    setup.transport.then(answer(200, "\n\n" + s3_error("InternalError", "try again")));
    setup.transport.then(answer(200, "<CompleteMultipartUploadResult><ETag>\"abc-1\"</ETag></CompleteMultipartUploadResult>"));
    S3Client client(setup.transport, options);
    auto etag = client.put_object(put_request("photos", "big.bin"), "small but over the threshold");
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(*etag, "abc-1");
    EXPECT_EQ(setup.transport.calls.size(), 4u);
    EXPECT_EQ(setup.sleeps.size(), 1u);
}

TEST(S3Client, StreamedMultipartReadsOnePartAtATime) {
    LocalSetup setup;
    S3ClientOptions options = setup.options();
    options.multipart_threshold = 5u << 20;
    options.part_size = 5u << 20;
    const std::string body((10u << 20) + 1, 'q');
    StringSource source(body, 1 << 16);
    setup.transport.then(answer(200, "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>"));
    setup.transport.then_do([&](const test::RecordedCall&, ByteSink*) {
        EXPECT_EQ(source.offset(), 5u << 20) << "only the first part has been read";
        return Result<TransportResponse>(answer(200, "", {{"etag", "\"a\""}}));
    });
    setup.transport.then(answer(200, "", {{"etag", "\"b\""}}));
    setup.transport.then(answer(200, "", {{"etag", "\"c\""}}));
    setup.transport.then(answer(200, "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>"));
    S3Client client(setup.transport, options);
    auto etag = client.put_object(put_request("photos", "s.bin"), source, body.size());
    ASSERT_TRUE(etag.has_value()) << etag.error().message;
    EXPECT_EQ(setup.transport.calls.size(), 5u);
    EXPECT_EQ(setup.transport.calls[3].request.body, "q");
}

TEST(S3Client, RejectsBadArgumentsBeforeSending) {
    LocalSetup setup;
    S3Client client(setup.transport, setup.options());
    StringSink sink;
    EXPECT_EQ(client.get_object("", "k", sink).error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(client.get_object("photos", "", sink).error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(client.get_object("photos", std::string(1025, 'k'), sink).error().code,
              ErrorCode::InvalidArgument);
    EXPECT_EQ(client.put_object({"photos", "k", "t", {{"bad name", "v"}}, ""}, "x").error().code,
              ErrorCode::InvalidArgument);
    EXPECT_EQ(client.put_object({"photos", "k", "t", {{"n", "line\r\nbreak"}}, ""}, "x").error().code,
              ErrorCode::InvalidArgument);
    EXPECT_EQ(client.put_object({"photos", "k", "t", {{"n", std::string(2100, 'v')}}, ""}, "x")
                  .error()
                  .code,
              ErrorCode::InvalidArgument);
    S3ClientOptions bad_endpoint = setup.options();
    bad_endpoint.endpoint = {"ftp://example.com", true};
    S3Client bad(setup.transport, bad_endpoint);
    EXPECT_EQ(bad.head_object("photos", "k").error().code, ErrorCode::InvalidArgument);
    EXPECT_TRUE(setup.transport.calls.empty());
}

}  // namespace
}  // namespace pf::aws
