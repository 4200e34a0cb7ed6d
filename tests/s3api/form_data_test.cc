#include "fake_http.h"
#include "s3api/form_data.h"

#include <gtest/gtest.h>

namespace pf::s3api {
namespace {

std::string form(const std::string& boundary, const std::string& file_content,
                 bool with_trailing_field = false) {
    std::string body;
    auto field = [&](const std::string& name, const std::string& value) {
        body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
                value + "\r\n";
    };
    field("key", "uploads/${filename}");
    field("Content-Type", "image/jpeg");
    field("x-amz-meta-tag", "a\r\nb");  // CRLF inside a value is data
    body += "--" + boundary +
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n" + file_content + "\r\n";
    if (with_trailing_field) {
        field("ignored", "after the file");
    }
    body += "--" + boundary + "--\r\n";
    return body;
}

std::string read_all(ByteSource& source, std::size_t slice) {
    std::string out;
    std::vector<char> buf(slice);
    while (true) {
        auto n = source.read(buf);
        EXPECT_TRUE(n);
        if (!n || *n == 0) break;
        out.append(buf.data(), *n);
    }
    return out;
}

class FormData : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FormData, FieldsThenStreamedFileAtAnyReadSize) {
    // File content that contains near-misses of the delimiter.
    std::string content = "\r\n--bound\r\n-not quite" + std::string(200000, 'x') + "\r\n--boun";
    testing::StringBody body(form("boundary42", content, true), GetParam());
    FormDataReader reader(body, "boundary42", {});
    ASSERT_TRUE(reader.read_fields());
    ASSERT_EQ(reader.fields().size(), 3u);
    EXPECT_EQ(reader.fields()[0].first, "key");
    EXPECT_EQ(reader.fields()[0].second, "uploads/${filename}");
    EXPECT_EQ(reader.fields()[2].second, "a\r\nb");
    EXPECT_EQ(reader.file_name(), "cat.jpg");
    EXPECT_EQ(reader.file_content_type(), "image/jpeg");
    EXPECT_EQ(read_all(reader.file(), GetParam() + 3), content);
}

INSTANTIATE_TEST_SUITE_P(ReadSizes, FormData, ::testing::Values(1, 7, 4096, 1 << 20));

TEST(FormDataErrors, MissingFileAndOversizedField) {
    std::string no_file = "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n";
    testing::StringBody body(no_file);
    FormDataReader reader(body, "b", {});
    auto r = reader.read_fields();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NotFound);

    std::string big = "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n" +
                      std::string(100000, 'k') + "\r\n--b--\r\n";
    testing::StringBody big_body(big);
    FormDataReader big_reader(big_body, "b", {});
    auto rb = big_reader.read_fields();
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().code, ErrorCode::InvalidArgument);
}

TEST(FormDataErrors, BodyEndingInsideTheFileIsAnError) {
    std::string cut = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nabc";
    testing::StringBody body(cut);
    FormDataReader reader(body, "b", {});
    ASSERT_TRUE(reader.read_fields());
    std::vector<char> buf(64);
    Result<std::size_t> n = std::size_t{1};
    while (n && *n > 0) n = reader.file().read(buf);
    EXPECT_FALSE(n);
}

TEST(FormBoundary, FromContentType) {
    EXPECT_EQ(form_boundary("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(form_boundary("multipart/form-data; boundary=\"a b\""), "a b");
    EXPECT_FALSE(form_boundary("multipart/form-data"));
}

}  // namespace
}  // namespace pf::s3api
