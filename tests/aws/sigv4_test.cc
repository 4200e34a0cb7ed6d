#include "aws/sigv4.h"
#include "aws/time_format.h"
#include "crypto/digest.h"

#include <gtest/gtest.h>

#include <map>

namespace pf::aws {
namespace {

// Sheet 2.7: the AWS documentation's example credentials and instant.
constexpr std::string_view kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kAmzDate = "20130524T000000Z";
const CredentialScope kScope{"20130524", "us-east-1", "s3"};

SystemTime example_time() {
    return *parse_amz_date(kAmzDate);
}

struct Computed {
    std::string canonical;
    std::string canonical_hash;
    std::string signature;
};

Computed compute(const CanonicalRequestInput& input) {
    Computed c;
    c.canonical = canonical_request(input);
    c.canonical_hash = crypto::sha256_hex(c.canonical);
    c.signature =
        signature(signing_key(kSecret, kScope), string_to_sign(kAmzDate, kScope, c.canonical));
    return c;
}

CanonicalRequestInput bucket_get(QueryParams query) {
    CanonicalRequestInput in;
    in.method = "GET";
    in.path = "/";
    in.query = std::move(query);
    in.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                  {"x-amz-content-sha256", std::string(kEmptySha256)},
                  {"x-amz-date", std::string(kAmzDate)}};
    in.signed_headers = {"host", "x-amz-content-sha256", "x-amz-date"};
    in.payload_hash = kEmptySha256;
    return in;
}

TEST(Sigv4, Vector1GetObjectWithRange) {
    CanonicalRequestInput in;
    in.method = "GET";
    in.path = "/test.txt";
    in.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                  {"range", "bytes=0-9"},
                  {"x-amz-content-sha256", std::string(kEmptySha256)},
                  {"x-amz-date", std::string(kAmzDate)},
                  {"user-agent", "not signed"}};
    in.signed_headers = {"host", "range", "x-amz-content-sha256", "x-amz-date"};
    in.payload_hash = kEmptySha256;
    const Computed c = compute(in);
    EXPECT_EQ(
        c.canonical,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(c.canonical_hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    EXPECT_EQ(c.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(Sigv4, Vector2PutObjectWithEncodedKey) {
    CanonicalRequestInput in;
    in.method = "PUT";
    in.path = "/test$file.text"; // decoded; the canonical URI encodes '$' as %24
    in.headers = {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"host", "examplebucket.s3.amazonaws.com"},
                  {"x-amz-content-sha256", crypto::sha256_hex("Welcome to Amazon S3.")},
                  {"x-amz-date", std::string(kAmzDate)},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    in.signed_headers = {"date", "host", "x-amz-content-sha256", "x-amz-date",
                         "x-amz-storage-class"};
    in.payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    const Computed c = compute(in);
    EXPECT_NE(c.canonical.find("\n/test%24file.text\n"), std::string::npos);
    EXPECT_EQ(c.canonical_hash, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    EXPECT_EQ(c.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(Sigv4, Vector3BucketLifecycle) {
    auto query = parse_query("lifecycle");
    ASSERT_TRUE(query.has_value());
    const Computed c = compute(bucket_get(*query));
    EXPECT_NE(c.canonical.find("GET\n/\nlifecycle=\n"), std::string::npos);
    EXPECT_EQ(c.canonical_hash, "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    EXPECT_EQ(c.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(Sigv4, Vector4ListObjects) {
    // Given out of order on purpose: the canonical query sorts.
    const Computed c = compute(bucket_get({{"prefix", "J"}, {"max-keys", "2"}}));
    EXPECT_NE(c.canonical.find("GET\n/\nmax-keys=2&prefix=J\n"), std::string::npos);
    EXPECT_EQ(c.canonical_hash, "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    EXPECT_EQ(c.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(Sigv4, Vector5PresignedGet) {
    SignRequest request;
    request.method = "GET";
    request.path = "/test.txt";
    request.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
    request.region = "us-east-1";
    request.service = "s3";
    request.now = example_time();
    const QueryParams query = presign_query(
        request, {std::string(kAccessKey), std::string(kSecret), ""}, std::chrono::seconds(86400));
    const QueryParams expected = {
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
        {"X-Amz-Date", "20130524T000000Z"},
        {"X-Amz-Expires", "86400"},
        {"X-Amz-SignedHeaders", "host"},
        {"X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"}};
    EXPECT_EQ(query, expected);

    // The server side: recompute from the received query without X-Amz-Signature.
    CanonicalRequestInput in;
    in.method = "GET";
    in.path = "/test.txt";
    in.query.assign(query.begin(), query.end() - 1);
    in.headers = request.headers;
    in.signed_headers = {"host"};
    in.payload_hash = kUnsignedPayload;
    const Computed c = compute(in);
    EXPECT_NE(
        c.canonical.find(
            "\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
            "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
            "&X-Amz-SignedHeaders=host\n"),
        std::string::npos);
    EXPECT_EQ(c.canonical_hash, "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    EXPECT_EQ(c.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(Sigv4, Vector6And7StreamingSeedsAndChunkChains) {
    CanonicalRequestInput in;
    in.method = "PUT";
    in.path = "/examplebucket/chunkObject.txt";
    in.headers = {{"content-encoding", "aws-chunked"},
                  {"content-length", "66824"},
                  {"host", "s3.amazonaws.com"},
                  {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
                  {"x-amz-date", std::string(kAmzDate)},
                  {"x-amz-decoded-content-length", "66560"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    in.signed_headers = {"content-encoding",     "content-length", "host",
                         "x-amz-content-sha256", "x-amz-date",     "x-amz-decoded-content-length",
                         "x-amz-storage-class"};
    in.payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    const Computed seed6 = compute(in);
    EXPECT_EQ(seed6.canonical_hash,
              "cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455");
    EXPECT_EQ(seed6.signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

    ChunkSignatureChain chain6(signing_key(kSecret, kScope), std::string(kAmzDate), kScope,
                               seed6.signature);
    EXPECT_EQ(chain6.next_chunk_signature(crypto::sha256_hex(std::string(65536, 'a'))),
              "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    EXPECT_EQ(chain6.next_chunk_signature(crypto::sha256_hex(std::string(1024, 'a'))),
              "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    EXPECT_EQ(chain6.next_chunk_signature(kEmptySha256),
              "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");

    // #7: signed trailer, content-length not signed, x-amz-trailer signed.
    in.headers.erase(in.headers.begin() + 1);
    in.headers[2].second = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    in.headers.emplace_back("x-amz-trailer", "x-amz-checksum-crc32c");
    in.signed_headers = {"content-encoding",
                         "host",
                         "x-amz-content-sha256",
                         "x-amz-date",
                         "x-amz-decoded-content-length",
                         "x-amz-storage-class",
                         "x-amz-trailer"};
    in.payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    const Computed seed7 = compute(in);
    EXPECT_EQ(seed7.canonical_hash,
              "44d48b8c2f70eae815a0198cc73d7a546a73a93359c070abbaa5e6c7de112559");
    EXPECT_EQ(seed7.signature, "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
    ChunkSignatureChain chain7(signing_key(kSecret, kScope), std::string(kAmzDate), kScope,
                               seed7.signature);
    EXPECT_EQ(chain7.next_chunk_signature(crypto::sha256_hex(std::string(65536, 'a'))),
              "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2");
    EXPECT_EQ(chain7.next_chunk_signature(crypto::sha256_hex(std::string(1024, 'a'))),
              "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7");
    EXPECT_EQ(chain7.next_chunk_signature(kEmptySha256),
              "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992");
    EXPECT_EQ(chain7.trailer_signature("x-amz-checksum-crc32c:sOO8/Q==\n"),
              "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435");
}

TEST(Sigv4, Vector8PostPolicySignature) {
    const std::string policy =
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgIC"
        "B7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNl"
        "ci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaX"
        "JlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2Fk"
        "Lmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LW"
        "Ftei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRp"
        "b24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgIC"
        "B7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3"
        "czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7In"
        "gtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    EXPECT_EQ(post_policy_signature(kSecret, {"20151229", "us-east-1", "s3"}, policy),
              "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
}

TEST(Sigv4, CanonicalHeadersTrimCollapseAndJoinDuplicates) {
    CanonicalRequestInput in;
    in.method = "GET";
    in.path = "/b/k";
    in.headers = {{"host", "127.0.0.1:9000"},
                  {"x-amz-meta-a", "  a   b\t\t c  "},
                  {"x-amz-meta-d", "1"},
                  {"X-Amz-Meta-D", " 2 "},
                  {"content-type", "image/jpeg"}};
    in.signed_headers = {"host", "x-amz-meta-a", "x-amz-meta-d", "x-amz-meta-missing"};
    in.payload_hash = kUnsignedPayload;
    EXPECT_EQ(canonical_request(in),
              "GET\n/b/k\n\nhost:127.0.0.1:9000\nx-amz-meta-a:a b c\nx-amz-meta-d:1,2\n"
              "x-amz-meta-missing:\n\nhost;x-amz-meta-a;x-amz-meta-d;x-amz-meta-missing\n"
              "UNSIGNED-PAYLOAD");
}

TEST(Sigv4, CanonicalQuerySortsEncodedNamesThenValues) {
    CanonicalRequestInput in;
    in.method = "GET";
    in.path = "/";
    in.query = {{"b", "2"}, {"a", "z"}, {"a", "y"}, {"A", "1"}, {"p", "a/b c+d~"}, {"e", ""}};
    in.payload_hash = kEmptySha256;
    const std::string text = canonical_request(in);
    EXPECT_NE(text.find("\nA=1&a=y&a=z&b=2&e=&p=a%2Fb%20c%2Bd~\n"), std::string::npos) << text;
}

// The second line of the canonical request.
std::string canonical_uri_of(CanonicalRequestInput in, std::string path) {
    in.path = std::move(path);
    const std::string text = canonical_request(in);
    const std::size_t start = text.find('\n') + 1;
    return text.substr(start, text.find('\n', start) - start);
}

TEST(Sigv4, S3PathsAreEncodedOnceAndNotNormalised) {
    CanonicalRequestInput in;
    in.method = "GET";
    in.payload_hash = kEmptySha256;
    EXPECT_EQ(canonical_uri_of(in, "/bucket/a/./b/../c//d e+f~\xc3\xa9"),
              "/bucket/a/./b/../c//d%20e%2Bf~%C3%A9");
    EXPECT_EQ(canonical_uri_of(in, "/bucket/it's (1)*!.jpg"), "/bucket/it%27s%20%281%29%2A%21.jpg");
    EXPECT_EQ(canonical_uri_of(in, ""), "/");
    EXPECT_EQ(canonical_uri_of(in, "/"), "/");
}

TEST(Sigv4, OtherServicesNormaliseAndEncodeTwice) {
    CanonicalRequestInput in;
    in.method = "POST";
    in.s3_path_rules = false;
    in.payload_hash = kEmptySha256;
    EXPECT_EQ(canonical_uri_of(in, "/a/./b/../c//d e"), "/a/c/d%2520e");
    EXPECT_EQ(canonical_uri_of(in, "/"), "/");
    EXPECT_EQ(canonical_uri_of(in, ""), "/");
    EXPECT_EQ(canonical_uri_of(in, "/x/"), "/x/");
    EXPECT_EQ(canonical_uri_of(in, "/../.."), "/");
    EXPECT_EQ(canonical_uri_of(in, "/2015-03-31/functions/f:1/invocations"),
              "/2015-03-31/functions/f%253A1/invocations");
}

TEST(Sigv4, ParsesAuthorizationHeaderWithEitherSeparator) {
    const std::string sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    for (const std::string& value :
         {"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" +
              sig,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=" +
              sig,
          "  AWS4-HMAC-SHA256   Signature=" + sig +
              " ,  Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request ,"
              "SignedHeaders=Host;range;x-amz-content-sha256;x-amz-date  "}) {
        auto parsed = parse_authorization_header(value);
        ASSERT_TRUE(parsed.has_value()) << value << ": " << parsed.error().message;
        EXPECT_EQ(parsed->access_key_id, "AKIAIOSFODNN7EXAMPLE");
        EXPECT_EQ(parsed->scope.to_string(), "20130524/us-east-1/s3/aws4_request");
        const std::vector<std::string> headers = {"host", "range", "x-amz-content-sha256",
                                                  "x-amz-date"};
        EXPECT_EQ(parsed->signed_headers, headers);
        EXPECT_EQ(parsed->signature, sig);
    }
}

TEST(Sigv4, MalformedAuthorizationHeadersNameTheProblem) {
    const std::string sig(64, 'a');
    const std::string cred = "Credential=AK/20130524/us-east-1/s3/aws4_request";
    const std::pair<std::string, std::string> cases[] = {
        {"", "unsupported algorithm"},
        {"AWS4-ECDSA-P256-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig,
         "unsupported algorithm 'AWS4-ECDSA-P256-SHA256'"},
        {"AWS4-HMAC-SHA256", "no Credential"},
        {"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, "missing Credential"},
        {"AWS4-HMAC-SHA256 " + cred + ", Signature=" + sig, "missing SignedHeaders"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host", "missing Signature"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig +
             ", Signature=" + sig,
         "appears twice"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Foo=bar, Signature=" + sig,
         "unknown component 'Foo'"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders, Signature=" + sig, "has no '='"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig,
         "empty header name"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig.substr(1),
         "64 lowercase hex"},
        {"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + std::string(64, 'A'),
         "64 lowercase hex"},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=" +
             sig,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, "
         "Signature=" +
             sig,
         "not yyyymmdd"},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, "
         "Signature=" +
             sig,
         "must end in aws4_request"},
        {"AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
         "Signature=" +
             sig,
         "empty access key"},
    };
    for (const auto& [value, expected] : cases) {
        auto parsed = parse_authorization_header(value);
        ASSERT_FALSE(parsed.has_value()) << value;
        EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
        EXPECT_NE(parsed.error().message.find(expected), std::string::npos)
            << value << " -> " << parsed.error().message;
        EXPECT_EQ(parsed.error().public_message, parsed.error().message);
    }
}

TEST(Sigv4, ParseCredentialSplitsFromTheRight) {
    auto parsed = parse_credential("AKIAIOSFODNN7EXAMPLE/20130524/eu-west-3/sns/aws4_request");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->first, "AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(parsed->second.date, "20130524");
    EXPECT_EQ(parsed->second.region, "eu-west-3");
    EXPECT_EQ(parsed->second.service, "sns");
}

TEST(Sigv4, SignRequestMatchesTheDocumentedExample) {
    SignRequest request;
    request.method = "GET";
    request.path = "/test.txt";
    request.headers = {{"host", "examplebucket.s3.amazonaws.com"}, {"range", "bytes=0-9"}};
    request.payload_hash = kEmptySha256;
    request.region = "us-east-1";
    request.service = "s3";
    request.now = example_time();
    const HeaderList added =
        sign_request(request, {std::string(kAccessKey), std::string(kSecret), ""});
    const HeaderList expected = {
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", std::string(kEmptySha256)},
        {"authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}};
    EXPECT_EQ(added, expected);
}

// What the server does: parse the Authorization header, canonicalise with the client's own
// SignedHeaders list, and recompute.
std::string recompute(const SignRequest& request, const HeaderList& added, std::string_view secret,
                      const AuthorizationHeader& auth, std::string_view payload_hash) {
    CanonicalRequestInput in;
    in.method = request.method;
    in.path = request.path;
    in.s3_path_rules = auth.scope.service == "s3";
    in.query = request.query;
    in.headers = request.headers;
    std::string amz_date;
    for (const auto& [name, value] : added) {
        if (name != "authorization") {
            in.headers.emplace_back(name, value);
        }
        if (name == "x-amz-date") {
            amz_date = value;
        }
    }
    in.signed_headers = auth.signed_headers;
    in.payload_hash = payload_hash;
    return signature(signing_key(secret, auth.scope),
                     string_to_sign(amz_date, auth.scope, canonical_request(in)));
}

TEST(Sigv4, SignRequestRoundTripsThroughServerVerification) {
    SignRequest request;
    request.method = "PUT";
    request.path = "/photos/in/My Photo+1 \xc3\xa9.jpg";
    request.query = {{"x-id", "PutObject"}, {"tagging", ""}};
    request.headers = {{"Host", "127.0.0.1:9000"},
                       {"content-type", "image/jpeg"},
                       {"x-amz-meta-owner", "  bob   smith "},
                       {"user-agent", "photoflux/0.1"},
                       {"expect", "100-continue"},
                       {"x-amz-date", "stale value the signer must replace"}};
    request.payload_hash = crypto::sha256_hex("body");
    request.region = "eu-central-1";
    request.service = "s3";
    request.now = example_time() + std::chrono::hours(24 * 400) + std::chrono::seconds(17);
    const SigningCredentials credentials{"AKIDEXAMPLE", "secret/with+chars", "session-token=="};
    const HeaderList added = sign_request(request, credentials);

    ASSERT_EQ(added.size(), 4u);
    EXPECT_EQ(added[0], (std::pair<std::string, std::string>{"x-amz-date", "20140628T000017Z"}));
    EXPECT_EQ(added[1].first, "x-amz-content-sha256");
    EXPECT_EQ(added[1].second, request.payload_hash);
    EXPECT_EQ(added[2],
              (std::pair<std::string, std::string>{"x-amz-security-token", "session-token=="}));
    ASSERT_EQ(added[3].first, "authorization");

    auto auth = parse_authorization_header(added[3].second);
    ASSERT_TRUE(auth.has_value()) << auth.error().message;
    EXPECT_EQ(auth->access_key_id, "AKIDEXAMPLE");
    EXPECT_EQ(auth->scope.to_string(), "20140628/eu-central-1/s3/aws4_request");
    const std::vector<std::string> signed_names = {"content-type",         "host",
                                                   "x-amz-content-sha256", "x-amz-date",
                                                   "x-amz-meta-owner",     "x-amz-security-token"};
    EXPECT_EQ(auth->signed_headers, signed_names);

    // The server's view has the signer's x-amz-date, not the stale one.
    SignRequest received = request;
    received.headers.pop_back();
    EXPECT_EQ(
        recompute(received, added, credentials.secret_access_key, *auth, request.payload_hash),
        auth->signature);

    // Any change the signature covers breaks it.
    EXPECT_NE(recompute(received, added, "wrong secret", *auth, request.payload_hash),
              auth->signature);
    SignRequest tampered = received;
    tampered.headers[2].second = "mallory";
    EXPECT_NE(
        recompute(tampered, added, credentials.secret_access_key, *auth, request.payload_hash),
        auth->signature);
    tampered = received;
    tampered.path = "/photos/in/other.jpg";
    EXPECT_NE(
        recompute(tampered, added, credentials.secret_access_key, *auth, request.payload_hash),
        auth->signature);
    tampered = received;
    tampered.query.emplace_back("extra", "1");
    EXPECT_NE(
        recompute(tampered, added, credentials.secret_access_key, *auth, request.payload_hash),
        auth->signature);
    EXPECT_NE(recompute(received, added, credentials.secret_access_key, *auth, kEmptySha256),
              auth->signature);
    // Unsigned headers may change freely.
    tampered = received;
    tampered.headers[3].second = "another agent";
    EXPECT_EQ(
        recompute(tampered, added, credentials.secret_access_key, *auth, request.payload_hash),
        auth->signature);
}

TEST(Sigv4, SignRequestForOtherServicesSendsNoContentSha256) {
    SignRequest request;
    request.method = "POST";
    request.path = "/";
    request.headers = {{"host", "sns.us-east-1.amazonaws.com"},
                       {"content-type", "application/x-www-form-urlencoded"}};
    request.payload_hash = crypto::sha256_hex("Action=ListTopics&Version=2010-03-31");
    request.region = "us-east-1";
    request.service = "sns";
    request.now = example_time();
    const HeaderList added = sign_request(request, {"AK", "SK", ""});
    ASSERT_EQ(added.size(), 2u);
    EXPECT_EQ(added[0].first, "x-amz-date");
    auto auth = parse_authorization_header(added[1].second);
    ASSERT_TRUE(auth.has_value());
    EXPECT_EQ(auth->scope.service, "sns");
    EXPECT_EQ(recompute(request, added, "SK", *auth, request.payload_hash), auth->signature);
}

// §2.7 has no vector with a session token; this one is botocore's (1.43.11): S3SigV4QueryAuth
// with the §2.7 key pair, token "AQoDYXdzEJr/session+token==", expires 86400, its clock fixed at
// 2013-05-24T00:00:00Z (mock.patch of botocore.auth.get_current_datetime), on GET
// https://examplebucket.s3.amazonaws.com/test.txt.
TEST(Sigv4, PresignWithSessionTokenMatchesBotocore) {
    SignRequest request;
    request.method = "GET";
    request.path = "/test.txt";
    request.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
    request.region = "us-east-1";
    request.service = "s3";
    request.now = example_time();
    const QueryParams query =
        presign_query(request, {std::string(kAccessKey), std::string(kSecret), "AQoDYXdzEJr/session+token=="},
                      std::chrono::seconds(86400));
    std::map<std::string, std::string> got(query.begin(), query.end());
    EXPECT_EQ(got["X-Amz-Security-Token"], "AQoDYXdzEJr/session+token==");
    EXPECT_EQ(got["X-Amz-Signature"],
              "6ec1544c722b0ea110b80c8221891234a9ddba7ec4b3b333812e90c46f0ff1e2");
}

TEST(Sigv4, PresignWithSessionTokenSignsTheToken) {
    SignRequest request;
    request.method = "PUT";
    request.path = "/photos/a b.jpg";
    request.headers = {{"host", "localhost:9000"}};
    request.region = "us-east-1";
    request.service = "s3";
    request.now = example_time();
    const QueryParams query =
        presign_query(request, {"AK", "SK", "TOKEN/x"}, std::chrono::seconds(60));
    ASSERT_GE(query.size(), 7u);
    EXPECT_EQ(query[5], (std::pair<std::string, std::string>{"X-Amz-Security-Token", "TOKEN/x"}));
    EXPECT_EQ(query.back().first, "X-Amz-Signature");

    CanonicalRequestInput in;
    in.method = "PUT";
    in.path = request.path;
    in.query.assign(query.begin(), query.end() - 1);
    in.headers = request.headers;
    in.signed_headers = {"host"};
    in.payload_hash = kUnsignedPayload;
    const CredentialScope scope{"20130524", "us-east-1", "s3"};
    EXPECT_EQ(
        signature(signing_key("SK", scope), string_to_sign(kAmzDate, scope, canonical_request(in))),
        query.back().second);
    in.query.erase(in.query.begin() + 5); // without the token the signature differs
    EXPECT_NE(
        signature(signing_key("SK", scope), string_to_sign(kAmzDate, scope, canonical_request(in))),
        query.back().second);
}

} // namespace
} // namespace pf::aws
