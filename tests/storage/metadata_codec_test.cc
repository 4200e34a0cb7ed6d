#include "storage/metadata_codec.h"

#include <gtest/gtest.h>

namespace pf::storage {
namespace {

TEST(MetadataCodec, RoundTripsEveryFieldAndArbitraryBytes) {
    ObjectMetadata m;
    m.content_type = "image/jpeg";
    m.content_encoding = "gzip";
    m.content_disposition = "inline; filename=\"a,b:c.jpg\"";
    m.cache_control = "no-cache";
    m.content_language = "de";
    m.expires = std::string("0");
    m.user = {{"z", "last"}, {"a", ""}, {"bin", std::string("\0\xff,:9:", 6)}, {"", "empty name"}};
    m.checksum_algorithm = "SHA256";
    m.checksum_value = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
    m.checksum_type = "COMPOSITE";
    auto back = decode_metadata(encode_metadata(m));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->content_type, m.content_type);
    EXPECT_EQ(back->content_encoding, m.content_encoding);
    EXPECT_EQ(back->content_disposition, m.content_disposition);
    EXPECT_EQ(back->cache_control, m.cache_control);
    EXPECT_EQ(back->content_language, m.content_language);
    EXPECT_EQ(back->expires, m.expires);
    EXPECT_EQ(back->user, m.user);
    EXPECT_EQ(back->checksum_algorithm, m.checksum_algorithm);
    EXPECT_EQ(back->checksum_value, m.checksum_value);
    EXPECT_EQ(back->checksum_type, m.checksum_type);
}

TEST(MetadataCodec, EmptyMetadataIsEmpty) {
    EXPECT_EQ(encode_metadata({}), "");
    auto back = decode_metadata("");
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(back->user.empty());
}

TEST(MetadataCodec, SkipsFieldsWrittenByANewerVersion) {
    auto back = decode_metadata("12:content-type,10:image/webp,4:tags,3:a=b,");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->content_type, "image/webp");
}

TEST(MetadataCodec, DamagedBytesAreAnInternalError) {
    for (const char* bad : {"12:content-type", "x:y,", "3:abc", "3:abc,", "99:short,1:x,",
                            "18446744073709551615:a,", "5:abcde;1:x,"}) {
        auto r = decode_metadata(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::Internal);
    }
}

}  // namespace
}  // namespace pf::storage
