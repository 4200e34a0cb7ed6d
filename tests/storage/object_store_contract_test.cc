// The ObjectStore contract suite (see object_store_contract.h). Implementations are instantiated
// in their own files (disk_store_contract_test.cc).
#include "object_store_contract.h"

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace pf::storage::test {

// Independently computed (Python hashlib) vectors.
constexpr const char* kHelloWorldMd5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";
constexpr const char* kEmptyMd5 = "d41d8cd98f00b204e9800998ecf8427e";
// aws-protocols.md §2.7 #10: 5,242,880 x 'a' then "hello world".
constexpr const char* kTwoPartEtag = "4ba54d90a25d93d94b7b41c987352341-2";
constexpr const char* kFiveMibOfAMd5 = "79b281060d337b9b2b84ccf390adcf74";
// 9,000,000 bytes of pattern_bytes() in 8 MiB parts (the shape of aws-protocols.md §1.7's vector).
constexpr const char* kNineMillionEtag = "dc4df0b1a237240e7543694df9858fe1-2";

constexpr std::size_t kMiB = 1024 * 1024;

std::string pattern_bytes(std::size_t size, std::size_t start) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<char>((start + i) % 251);
    }
    return out;
}

std::string read_all(ObjectStore::Reader& reader, std::size_t chunk) {
    std::string out;
    std::string buffer(chunk, '\0');
    for (;;) {
        auto n = reader.read(std::span<char>(buffer.data(), buffer.size()));
        if (!n) {
            ADD_FAILURE() << "read failed: " << n.error().message;
            return out;
        }
        if (*n == 0) {
            return out;
        }
        out.append(buffer.data(), *n);
    }
}

void ObjectStoreContract::SetUp() {
    dir_ = std::make_unique<pf::test::TempDir>("pf-store-contract");
    store_ = GetParam().open(dir_->path());
    ASSERT_NE(store_, nullptr);
}

void ObjectStoreContract::TearDown() {
    store_.reset();
    dir_.reset();
}

ObjectInfo ObjectStoreContract::put(const std::string& bucket, const std::string& key,
                                    const std::string& body, ObjectMetadata metadata) {
    StringSource source(body);
    auto info = store().put_object(bucket, key, source, std::move(metadata), {}, {}, {});
    EXPECT_TRUE(info.has_value()) << (info ? "" : info.error().message);
    return info ? *info : ObjectInfo{};
}

Result<ObjectInfo> ObjectStoreContract::try_put(const std::string& bucket, const std::string& key,
                                                const std::string& body,
                                                const PutConditions& conditions,
                                                const BeforeCommit& before_commit) {
    StringSource source(body);
    return store().put_object(bucket, key, source, {}, conditions, before_commit, {});
}

std::string ObjectStoreContract::get(const std::string& bucket, const std::string& key) {
    auto reader = store().open_object(bucket, key);
    EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().message);
    return reader ? read_all(**reader) : std::string();
}

void ObjectStoreContract::make_bucket(const std::string& name) {
    auto created = store().create_bucket(name, "us-east-1");
    ASSERT_TRUE(created.has_value()) << created.error().message;
}

ListPage ObjectStoreContract::list_all(const std::string& bucket, ListQuery query,
                                       std::size_t page_size) {
    ListPage all;
    query.max_keys = page_size;
    for (int pages = 0; pages < 100000; ++pages) {
        auto page = store().list_objects(bucket, query);
        EXPECT_TRUE(page.has_value()) << (page ? "" : page.error().message);
        if (!page) {
            return all;
        }
        std::size_t entries = page->objects.size() + page->common_prefixes.size();
        EXPECT_LE(entries, page_size);
        for (auto& o : page->objects) {
            all.objects.push_back(std::move(o));
        }
        for (auto& p : page->common_prefixes) {
            all.common_prefixes.push_back(std::move(p));
        }
        if (!page->truncated) {
            EXPECT_TRUE(page->resume_after.empty());
            return all;
        }
        EXPECT_EQ(entries, page_size) << "a truncated page must be full";
        EXPECT_FALSE(page->resume_after.empty());
        query.start_after = page->resume_after;
    }
    ADD_FAILURE() << "listing did not end";
    return all;
}

PartInfo ObjectStoreContract::put_part(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int number,
                                       const std::string& body) {
    StringSource source(body);
    auto part = store().upload_part(bucket, key, upload_id, number, source, {});
    EXPECT_TRUE(part.has_value()) << (part ? "" : part.error().message);
    return part ? *part : PartInfo{};
}

namespace {

std::vector<std::string> keys_of(const ListPage& page) {
    std::vector<std::string> keys;
    for (const auto& o : page.objects) {
        keys.push_back(o.key);
    }
    return keys;
}

// Keys and common prefixes of a page merged into one sorted sequence (a common prefix sorts
// exactly where its first key would).
std::vector<std::string> entries_of(const ListPage& page) {
    std::vector<std::string> entries = keys_of(page);
    entries.insert(entries.end(), page.common_prefixes.begin(), page.common_prefixes.end());
    std::sort(entries.begin(), entries.end());
    return entries;
}

// What a listing must return, computed the obvious way from the set of keys.
std::vector<std::string> reference_listing(const std::set<std::string>& keys,
                                           const std::string& prefix, const std::string& delimiter,
                                           const std::string& start_after) {
    auto rollup = [&](const std::string& key) -> std::optional<std::string> {
        if (delimiter.empty()) {
            return std::nullopt;
        }
        auto at = key.find(delimiter, prefix.size());
        if (at == std::string::npos) {
            return std::nullopt;
        }
        return key.substr(0, at + delimiter.size());
    };
    bool skip_under_start = !start_after.empty() && start_after.starts_with(prefix) &&
                            rollup(start_after) == start_after;
    std::set<std::string> entries;
    for (const auto& key : keys) {
        if (!key.starts_with(prefix) || key <= start_after) {
            continue;
        }
        if (skip_under_start && key.starts_with(start_after)) {
            continue;
        }
        entries.insert(rollup(key).value_or(key));
    }
    return {entries.begin(), entries.end()};
}

TEST_P(ObjectStoreContract, PutThenGetAndHeadRoundTripWithMetadata) {
    make_bucket("photos");
    ObjectMetadata metadata;
    metadata.content_type = "image/jpeg";
    metadata.content_encoding = "gzip";
    metadata.content_disposition = "attachment; filename=\"cat.jpg\"";
    metadata.cache_control = "max-age=60";
    metadata.content_language = "fr";
    metadata.expires = "Thu, 01 Dec 2026 16:00:00 GMT";
    metadata.user = {{"owner", "bob"}, {"empty", ""}, {"a-b", "x:y,z\n\xff"}};
    metadata.checksum_algorithm = "CRC32";
    metadata.checksum_value = "DUoRhQ==";
    metadata.checksum_type = "FULL_OBJECT";

    auto put_info = put("photos", "in/cat.jpg", "hello world", metadata);
    EXPECT_EQ(put_info.bucket, "photos");
    EXPECT_EQ(put_info.key, "in/cat.jpg");
    EXPECT_EQ(put_info.size, 11u);
    EXPECT_EQ(put_info.etag, kHelloWorldMd5);
    EXPECT_TRUE(put_info.part_sizes.empty());

    auto head = store().head_object("photos", "in/cat.jpg");
    ASSERT_TRUE(head.has_value()) << head.error().message;
    EXPECT_EQ(head->size, 11u);
    EXPECT_EQ(head->etag, kHelloWorldMd5);
    EXPECT_EQ(head->last_modified, put_info.last_modified);
    EXPECT_EQ(head->metadata.content_type, "image/jpeg");
    EXPECT_EQ(head->metadata.content_encoding, "gzip");
    EXPECT_EQ(head->metadata.content_disposition, "attachment; filename=\"cat.jpg\"");
    EXPECT_EQ(head->metadata.cache_control, "max-age=60");
    EXPECT_EQ(head->metadata.content_language, "fr");
    EXPECT_EQ(head->metadata.expires, "Thu, 01 Dec 2026 16:00:00 GMT");
    EXPECT_EQ(head->metadata.user, metadata.user) << "user metadata keeps order and bytes";
    EXPECT_EQ(head->metadata.checksum_algorithm, "CRC32");
    EXPECT_EQ(head->metadata.checksum_value, "DUoRhQ==");
    EXPECT_EQ(head->metadata.checksum_type, "FULL_OBJECT");

    auto reader = store().open_object("photos", "in/cat.jpg");
    ASSERT_TRUE(reader.has_value()) << reader.error().message;
    EXPECT_EQ((*reader)->info().etag, kHelloWorldMd5);
    EXPECT_EQ((*reader)->info().metadata.user, metadata.user);
    EXPECT_EQ(read_all(**reader, 3), "hello world");
}

TEST_P(ObjectStoreContract, EtagsAreTheMd5OfTheBody) {
    make_bucket("b");
    EXPECT_EQ(put("b", "hello", "hello world").etag, kHelloWorldMd5);
    auto empty = put("b", "empty", "");
    EXPECT_EQ(empty.etag, kEmptyMd5);
    EXPECT_EQ(empty.size, 0u);
    EXPECT_EQ(get("b", "empty"), "");
    // Large enough to cross the store's write buffers several times.
    std::string big = pattern_bytes(3 * kMiB + 17);
    EXPECT_EQ(put("b", "big", big).size, big.size());
    EXPECT_EQ(get("b", "big"), big);
}

TEST_P(ObjectStoreContract, LastModifiedIsInWholeSeconds) {
    make_bucket("b");
    auto before = std::chrono::system_clock::now();
    auto info = put("b", "k", "x");
    auto after = std::chrono::system_clock::now();
    EXPECT_EQ(info.last_modified.time_since_epoch() % std::chrono::seconds(1),
              TimePoint::duration::zero());
    EXPECT_GE(info.last_modified, std::chrono::floor<std::chrono::seconds>(before));
    EXPECT_LE(info.last_modified, after);
    auto listed = store().list_objects("b", {});
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->objects.size(), 1u);
    EXPECT_EQ(listed->objects[0].last_modified, info.last_modified);
}

TEST_P(ObjectStoreContract, OverwriteReplacesBytesAndMetadata) {
    make_bucket("b");
    ObjectMetadata first;
    first.content_type = "text/plain";
    first.user = {{"v", "1"}};
    put("b", "k", "first version", first);
    ObjectMetadata second;
    second.content_type = "application/json";
    auto info = put("b", "k", "{}", second);
    EXPECT_EQ(get("b", "k"), "{}");
    auto head = store().head_object("b", "k");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->etag, info.etag);
    EXPECT_EQ(head->size, 2u);
    EXPECT_EQ(head->metadata.content_type, "application/json");
    EXPECT_TRUE(head->metadata.user.empty()) << "metadata is replaced, not merged";
    auto listed = store().list_objects("b", {});
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->objects.size(), 1u);
}

TEST_P(ObjectStoreContract, RangesReturnExactSlices) {
    make_bucket("b");
    std::string body = pattern_bytes(100000);
    put("b", "k", body);
    struct Case {
        std::uint64_t offset, length;
    };
    for (auto c : {Case{0, 10}, Case{99990, 10}, Case{500, 1}, Case{0, 100000}, Case{12345, 54321},
                   Case{99999, 500}, Case{100000, 5}}) {
        auto reader = store().open_object("b", "k");
        ASSERT_TRUE(reader.has_value());
        ASSERT_TRUE((*reader)->set_range(c.offset, c.length).has_value());
        std::uint64_t expected_length = std::min<std::uint64_t>(c.length, 100000 - c.offset);
        EXPECT_EQ(read_all(**reader, 4096), body.substr(c.offset, expected_length))
            << "range " << c.offset << "+" << c.length;
    }
}

TEST_P(ObjectStoreContract, RangesPastTheEndOrAfterReadingAreRefused) {
    make_bucket("b");
    put("b", "k", "0123456789");
    auto reader = store().open_object("b", "k");
    ASSERT_TRUE(reader.has_value());
    auto past = (*reader)->set_range(11, 1);
    ASSERT_FALSE(past.has_value());
    EXPECT_EQ(past.error().code, ErrorCode::InvalidArgument);
    char c;
    ASSERT_TRUE((*reader)->read(std::span<char>(&c, 1)).has_value());
    auto late = (*reader)->set_range(0, 1);
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code, ErrorCode::InvalidArgument);
}

TEST_P(ObjectStoreContract, BeforeCommitSeesTheDigestAndMayFillChecksums) {
    make_bucket("b");
    BodyDigest seen;
    auto info = try_put("b", "k", "hello world", {},
                        [&](const BodyDigest& digest, ObjectMetadata& metadata) -> Result<void> {
                            seen = digest;
                            metadata.checksum_algorithm = "CRC32";
                            metadata.checksum_value = "DUoRhQ==";
                            return {};
                        });
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(seen.size, 11u);
    EXPECT_EQ(seen.md5_hex, kHelloWorldMd5);
    EXPECT_EQ(info->metadata.checksum_value, "DUoRhQ==");
    auto head = store().head_object("b", "k");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->metadata.checksum_value, "DUoRhQ==");
    auto listed = store().list_objects("b", {});
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->objects.size(), 1u);
    EXPECT_EQ(listed->objects[0].checksum_algorithm, "CRC32");
}

TEST_P(ObjectStoreContract, ABeforeCommitErrorLeavesNothingVisible) {
    make_bucket("b");
    auto refuse = [](const BodyDigest&, ObjectMetadata&) -> Result<void> {
        return make_error(ErrorCode::InvalidArgument, "BadDigest");
    };
    auto fresh = try_put("b", "new", "abc", {}, refuse);
    ASSERT_FALSE(fresh.has_value());
    EXPECT_EQ(fresh.error().message, "BadDigest") << "the hook's error is returned as is";
    EXPECT_EQ(store().head_object("b", "new").error().code, ErrorCode::NotFound);

    put("b", "old", "original");
    auto over = try_put("b", "old", "replacement", {}, refuse);
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(get("b", "old"), "original");
    auto listed = store().list_objects("b", {});
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(keys_of(*listed), std::vector<std::string>{"old"});
}

TEST_P(ObjectStoreContract, ABodyErrorLeavesNothingVisible) {
    make_bucket("b");
    put("b", "k", "original");
    FailingSource body(3 * kMiB);
    auto r = store().put_object("b", "k", body, {}, {}, {}, {});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "body checksum mismatch");
    EXPECT_EQ(get("b", "k"), "original");
    FailingSource part_body(1000);
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    EXPECT_FALSE(store().upload_part("b", "m", upload->upload_id, 1, part_body, {}).has_value());
    auto parts = store().list_parts("b", "m", upload->upload_id, 0, 1000);
    ASSERT_TRUE(parts.has_value());
    EXPECT_TRUE(parts->empty());
}

TEST_P(ObjectStoreContract, IfNoneMatchAnyRefusesAnExistingKey) {
    make_bucket("b");
    PutConditions create_only;
    create_only.if_none_match_any = true;
    ASSERT_TRUE(try_put("b", "k", "first", create_only).has_value());
    auto second = try_put("b", "k", "second", create_only);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(get("b", "k"), "first");
}

TEST_P(ObjectStoreContract, IfMatchComparesTheCurrentEtag) {
    make_bucket("b");
    auto first = put("b", "k", "first");
    PutConditions wrong;
    wrong.if_match = std::string(kHelloWorldMd5);
    auto refused = try_put("b", "k", "second", wrong);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(get("b", "k"), "first");

    PutConditions right;
    right.if_match = first.etag;
    ASSERT_TRUE(try_put("b", "k", "second", right).has_value());
    EXPECT_EQ(get("b", "k"), "second");
    PutConditions quoted;
    quoted.if_match = "\"" + store().head_object("b", "k")->etag + "\"";
    EXPECT_TRUE(try_put("b", "k", "third", quoted).has_value()) << "quotes are ignored";

    auto missing = try_put("b", "absent", "x", right);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound) << "S3: If-Match on a missing key";
    EXPECT_EQ(store().head_object("b", "absent").error().code, ErrorCode::NotFound);
}

TEST_P(ObjectStoreContract, DeleteSaysWhetherSomethingWasDeleted) {
    make_bucket("b");
    put("b", "k", "x");
    auto first = store().delete_object("b", "k", {});
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(*first);
    auto second = store().delete_object("b", "k", {});
    ASSERT_TRUE(second.has_value());
    EXPECT_FALSE(*second);
    EXPECT_EQ(store().head_object("b", "k").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().open_object("b", "k").error().code, ErrorCode::NotFound);
}

TEST_P(ObjectStoreContract, MissingBucketsAndKeysAreNotFound) {
    StringSource body("x");
    auto put_missing = store().put_object("nope", "k", body, {}, {}, {}, {});
    ASSERT_FALSE(put_missing.has_value());
    EXPECT_EQ(put_missing.error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().head_object("nope", "k").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().list_objects("nope", {}).error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().delete_object("nope", "k", {}).error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().head_bucket("nope").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().create_multipart("nope", "k", {}).error().code, ErrorCode::NotFound);
    make_bucket("b");
    EXPECT_EQ(store().head_object("b", "k").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().get_multipart("b", "k", "no-such-upload").error().code, ErrorCode::NotFound);
}

TEST_P(ObjectStoreContract, RefusesEmptyKeysAndKeysWithNul) {
    make_bucket("b");
    for (const std::string& key : {std::string(), std::string("a\0b", 3), std::string(1025, 'k')}) {
        auto r = try_put("b", key, "x");
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    }
    EXPECT_TRUE(try_put("b", std::string(1024, 'k'), "x").has_value());
}

TEST_P(ObjectStoreContract, ListingWithPrefixDelimiterStartAfterAndMaxKeys) {
    make_bucket("b");
    for (const char* key : {"a.txt", "in/2025/x.jpg", "in/2026/a.jpg", "in/2026/b.jpg",
                            "in/top.jpg", "out/t.jpg", "zz"}) {
        put("b", key, key);
    }
    auto all = store().list_objects("b", {});
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(keys_of(*all).size(), 7u);
    EXPECT_FALSE(all->truncated);
    EXPECT_EQ(all->objects[0].size, 5u);
    EXPECT_EQ(all->objects[0].etag, put("b", "a.txt", "a.txt").etag);

    ListQuery top;
    top.delimiter = "/";
    auto page = store().list_objects("b", top);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), (std::vector<std::string>{"a.txt", "zz"}));
    EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"in/", "out/"}));

    ListQuery in;
    in.prefix = "in/";
    in.delimiter = "/";
    page = store().list_objects("b", in);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), std::vector<std::string>{"in/top.jpg"});
    EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"in/2025/", "in/2026/"}));

    ListQuery after;
    after.prefix = "in/";
    after.start_after = "in/2026/a.jpg";
    page = store().list_objects("b", after);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), (std::vector<std::string>{"in/2026/b.jpg", "in/top.jpg"}));

    ListQuery two;
    two.max_keys = 2;
    page = store().list_objects("b", two);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), (std::vector<std::string>{"a.txt", "in/2025/x.jpg"}));
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->resume_after, "in/2025/x.jpg");

    ListQuery exact;  // exactly max_keys entries left: not truncated
    exact.prefix = "in/2026/";
    exact.max_keys = 2;
    page = store().list_objects("b", exact);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(page->objects.size(), 2u);
    EXPECT_FALSE(page->truncated);
    EXPECT_TRUE(page->resume_after.empty());

    ListQuery none;
    none.prefix = "nothing/";
    page = store().list_objects("b", none);
    ASSERT_TRUE(page.has_value());
    EXPECT_TRUE(page->objects.empty());
    EXPECT_TRUE(page->common_prefixes.empty());
    EXPECT_FALSE(page->truncated);
}

TEST_P(ObjectStoreContract, ListingPaginatesAcrossCommonPrefixes) {
    make_bucket("b");
    std::set<std::string> keys;
    for (int dir = 0; dir < 5; ++dir) {
        for (int file = 0; file < 4; ++file) {
            keys.insert(std::string("d") + std::to_string(dir) + "/f" + std::to_string(file));
        }
        keys.insert("d" + std::to_string(dir) + ".txt");
    }
    for (const auto& key : keys) {
        put("b", key, "x");
    }
    ListQuery query;
    query.delimiter = "/";
    auto expected = reference_listing(keys, "", "/", "");
    ASSERT_EQ(expected.size(), 10u);
    for (std::size_t page_size : {1u, 2u, 3u, 4u, 9u, 10u, 11u}) {
        auto all = list_all("b", query, page_size);
        EXPECT_EQ(entries_of(all), expected) << "page size " << page_size;
    }
    // A common prefix handed back as start_after skips everything under it ('.' sorts before
    // '/', so d2.txt came before d2/).
    query.start_after = "d2/";
    auto rest = store().list_objects("b", query);
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(entries_of(*rest), (std::vector<std::string>{"d3.txt", "d3/", "d4.txt", "d4/"}));
}

TEST_P(ObjectStoreContract, ListingIsRawByteOrder) {
    make_bucket("b");
    // UTF-8 'é' is C3 A9, so it sorts after every ASCII byte; 0xFF sorts last; uppercase first.
    std::vector<std::string> keys = {"Z",
                                     "a",
                                     "a b",
                                     "a+b",
                                     "a-b",
                                     "a/b",
                                     "a~",
                                     "b",
                                     "\xc3\xa9t\xc3\xa9",
                                     "e\xcc\x81",
                                     "\xef\xbc\xa1",
                                     "\xff",
                                     "\xff\xff/x"};
    std::vector<std::string> shuffled = keys;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
    for (const auto& key : shuffled) {
        put("b", key, key);
    }
    std::sort(keys.begin(), keys.end());  // std::string compares as unsigned bytes
    auto all = store().list_objects("b", {});
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(keys_of(*all), keys);
    ListQuery high;
    high.prefix = "\xff";
    high.delimiter = "/";
    auto page = store().list_objects("b", high);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), std::vector<std::string>{"\xff"});
    EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"\xff\xff/"});
    ListQuery accent;
    accent.prefix = "\xc3";
    page = store().list_objects("b", accent);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(keys_of(*page), std::vector<std::string>{"\xc3\xa9t\xc3\xa9"});
    EXPECT_EQ(get("b", "\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
}

TEST_P(ObjectStoreContract, ListingHandlesRunsOfSlashes) {
    make_bucket("b");
    std::set<std::string> keys = {"/", "//", "///a", "a/", "a//", "a//b", "a///c", "a/b", "a/b/"};
    for (const auto& key : keys) {
        put("b", key, "x");
    }
    for (const std::string prefix : {"", "a", "a/", "a//", "/"}) {
        for (const std::string delimiter : {"", "/", "//"}) {
            ListQuery query;
            query.prefix = prefix;
            query.delimiter = delimiter;
            auto expected = reference_listing(keys, prefix, delimiter, "");
            for (std::size_t page_size : {1u, 2u, 1000u}) {
                EXPECT_EQ(entries_of(list_all("b", query, page_size)), expected)
                    << "prefix '" << prefix << "' delimiter '" << delimiter << "' page "
                    << page_size;
            }
        }
    }
}

TEST_P(ObjectStoreContract, ListingAgreesWithAReferenceModel) {
    make_bucket("b");
    std::mt19937 random(20261129);
    const std::vector<std::string> pieces = {"a", "b", "/", "/", "\xc3\xa9", "\xff", "~", "A", "-"};
    auto pick = [&](const std::vector<std::string>& from) {
        return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(random)];
    };
    std::set<std::string> keys;
    while (keys.size() < 300) {
        std::string key;
        int length = std::uniform_int_distribution<int>(1, 7)(random);
        for (int i = 0; i < length; ++i) {
            key += pick(pieces);
        }
        keys.insert(key);
    }
    std::vector<std::string> key_list(keys.begin(), keys.end());
    // Written from 8 threads: quicker, and the listing must not care how keys arrived.
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < 8; ++t) {
        writers.emplace_back([&, t] {
            for (std::size_t i = t; i < key_list.size(); i += 8) {
                put("b", key_list[i], "");
            }
        });
    }
    for (auto& writer : writers) {
        writer.join();
    }
    const std::vector<std::string> delimiters = {"", "/", "a", "//", "\xc3\xa9"};
    for (int round = 0; round < 150; ++round) {
        ListQuery query;
        const std::string& some_key = pick(key_list);
        query.prefix = some_key.substr(0, std::uniform_int_distribution<std::size_t>(0, 3)(random));
        query.delimiter = pick(delimiters);
        int start = std::uniform_int_distribution<int>(0, 3)(random);
        if (start == 1) {
            query.start_after = pick(key_list);
        } else if (start == 2) {
            query.start_after = query.prefix + pick(pieces) + query.delimiter;
        }
        std::size_t page_size = std::vector<std::size_t>{1, 2, 3, 7, 50, 1000}[round % 6];
        auto expected = reference_listing(keys, query.prefix, query.delimiter, query.start_after);
        EXPECT_EQ(entries_of(list_all("b", query, page_size)), expected)
            << "prefix '" << query.prefix << "' delimiter '" << query.delimiter << "' start_after '"
            << query.start_after << "' page " << page_size;
    }
}

TEST_P(ObjectStoreContract, BucketLifecycle) {
    auto created = store().create_bucket("photos", "eu-west-1");
    ASSERT_TRUE(created.has_value());
    EXPECT_EQ(created->name, "photos");
    EXPECT_EQ(created->region, "eu-west-1");
    EXPECT_EQ(created->created.time_since_epoch() % std::chrono::seconds(1),
              TimePoint::duration::zero());
    auto again = store().create_bucket("photos", "eu-west-1");
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
    make_bucket("archive");
    auto head = store().head_bucket("photos");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->region, "eu-west-1");
    EXPECT_EQ(head->created, created->created);
    auto buckets = store().list_buckets();
    ASSERT_TRUE(buckets.has_value());
    ASSERT_EQ(buckets->size(), 2u);
    EXPECT_EQ((*buckets)[0].name, "archive");
    EXPECT_EQ((*buckets)[1].name, "photos");

    put("photos", "k", "x");
    auto not_empty = store().delete_bucket("photos");
    ASSERT_FALSE(not_empty.has_value());
    EXPECT_EQ(not_empty.error().code, ErrorCode::PreconditionFailed);
    ASSERT_TRUE(store().delete_object("photos", "k", {}).has_value());

    auto upload = store().create_multipart("photos", "big", {});
    ASSERT_TRUE(upload.has_value());
    auto uploading = store().delete_bucket("photos");
    ASSERT_FALSE(uploading.has_value());
    EXPECT_EQ(uploading.error().code, ErrorCode::PreconditionFailed)
        << "an upload in progress keeps the bucket";
    ASSERT_TRUE(store().abort_multipart("photos", "big", upload->upload_id).has_value());

    ASSERT_TRUE(store().delete_bucket("photos").has_value());
    EXPECT_EQ(store().head_bucket("photos").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().delete_bucket("photos").error().code, ErrorCode::NotFound);
    buckets = store().list_buckets();
    ASSERT_TRUE(buckets.has_value());
    ASSERT_EQ(buckets->size(), 1u);
    // A recreated bucket starts empty, configs included.
    ASSERT_TRUE(store().put_bucket_config("archive", "cors", "<CORS/>").has_value());
    ASSERT_TRUE(store().delete_bucket("archive").has_value());
    make_bucket("archive");
    auto config = store().get_bucket_config("archive", "cors");
    ASSERT_TRUE(config.has_value());
    EXPECT_FALSE(config->has_value());
}

TEST_P(ObjectStoreContract, BucketConfigsAreStoredVerbatim) {
    make_bucket("b");
    auto missing = store().get_bucket_config("b", "notification");
    ASSERT_TRUE(missing.has_value());
    EXPECT_FALSE(missing->has_value());
    std::string document = "<NotificationConfiguration>\n\t\xc3\xa9\0</x>";
    ASSERT_TRUE(store().put_bucket_config("b", "notification", document).has_value());
    ASSERT_TRUE(store().put_bucket_config("b", "cors", "<CORSConfiguration/>").has_value());
    auto stored = store().get_bucket_config("b", "notification");
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(stored->has_value());
    EXPECT_EQ(**stored, document);
    ASSERT_TRUE(store().put_bucket_config("b", "notification", "<v2/>").has_value());
    EXPECT_EQ(**store().get_bucket_config("b", "notification"), "<v2/>");
    auto deleted = store().delete_bucket_config("b", "cors");
    ASSERT_TRUE(deleted.has_value());
    EXPECT_TRUE(*deleted);
    EXPECT_FALSE(*store().delete_bucket_config("b", "cors"));
    EXPECT_FALSE(store().get_bucket_config("b", "cors")->has_value());
    EXPECT_EQ(store().put_bucket_config("nope", "cors", "x").error().code, ErrorCode::NotFound);
    EXPECT_EQ(store().get_bucket_config("nope", "cors").error().code, ErrorCode::NotFound);
}

TEST_P(ObjectStoreContract, MultipartEtagsFollowTheS3Formula) {
    make_bucket("b");
    {
        auto upload = store().create_multipart("b", "two", {});
        ASSERT_TRUE(upload.has_value());
        auto p1 = put_part("b", "two", upload->upload_id, 1, std::string(5 * kMiB, 'a'));
        EXPECT_EQ(p1.etag, kFiveMibOfAMd5);
        EXPECT_EQ(p1.size, 5 * kMiB);
        auto p2 = put_part("b", "two", upload->upload_id, 2, "hello world");
        EXPECT_EQ(p2.etag, kHelloWorldMd5);
        BodyDigest seen;
        auto done = store().complete_multipart(
            "b", "two", upload->upload_id, {{1, p1.etag}, {2, "\"" + p2.etag + "\""}}, {},
            [&](const BodyDigest& digest, ObjectMetadata&) -> Result<void> {
                seen = digest;
                return {};
            }, {});
        ASSERT_TRUE(done.has_value()) << done.error().message;
        EXPECT_EQ(done->etag, kTwoPartEtag);
        EXPECT_EQ(seen.md5_hex, kTwoPartEtag);
        EXPECT_EQ(seen.size, 5 * kMiB + 11);
        EXPECT_EQ(store().head_object("b", "two")->etag, kTwoPartEtag);
    }
    {
        std::string body = pattern_bytes(9000000);
        auto upload = store().create_multipart("b", "nine", {});
        ASSERT_TRUE(upload.has_value());
        auto p1 = put_part("b", "nine", upload->upload_id, 1, body.substr(0, 8 * kMiB));
        auto p2 = put_part("b", "nine", upload->upload_id, 2, body.substr(8 * kMiB));
        EXPECT_EQ(p1.etag, "727943cf3cd0ed31e7fbe1bab434d5eb");
        EXPECT_EQ(p2.etag, "63478b5131b7ea62c75f0db07c735b11");
        auto done = store().complete_multipart("b", "nine", upload->upload_id,
                                               {{1, p1.etag}, {2, p2.etag}}, {}, {}, {});
        ASSERT_TRUE(done.has_value()) << done.error().message;
        EXPECT_EQ(done->etag, kNineMillionEtag);
        EXPECT_EQ(done->size, 9000000u);
        EXPECT_EQ(get("b", "nine"), body);
    }
}

TEST_P(ObjectStoreContract, MultipartObjectsReadAcrossPartsAndKeepPartSizes) {
    make_bucket("b");
    ObjectMetadata metadata;
    metadata.content_type = "video/mp4";
    metadata.user = {{"camera", "x100"}};
    auto upload = store().create_multipart("b", "m", metadata);
    ASSERT_TRUE(upload.has_value());
    auto fetched = store().get_multipart("b", "m", upload->upload_id);
    ASSERT_TRUE(fetched.has_value());
    EXPECT_EQ(fetched->metadata.content_type, "video/mp4");
    EXPECT_EQ(fetched->initiated, upload->initiated);
    std::string a = pattern_bytes(70000), b = pattern_bytes(50000, 3), c = pattern_bytes(1, 9);
    // Uploaded out of order, as aws-cli does.
    auto p3 = put_part("b", "m", upload->upload_id, 3, c);
    auto p1 = put_part("b", "m", upload->upload_id, 1, a);
    auto p2 = put_part("b", "m", upload->upload_id, 2, b);
    auto done = store().complete_multipart("b", "m", upload->upload_id,
                                           {{1, p1.etag}, {2, p2.etag}, {3, p3.etag}}, {}, {}, {});
    ASSERT_TRUE(done.has_value()) << done.error().message;
    EXPECT_EQ(done->part_sizes, (std::vector<std::uint64_t>{70000, 50000, 1}));
    EXPECT_EQ(done->metadata.user, metadata.user);
    auto head = store().head_object("b", "m");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->part_sizes, (std::vector<std::uint64_t>{70000, 50000, 1}));
    EXPECT_EQ(head->metadata.content_type, "video/mp4");
    EXPECT_EQ(head->size, 120001u);
    std::string whole = a + b + c;
    EXPECT_EQ(get("b", "m"), whole);
    // A range across the part boundary, and the range S3 serves for ?partNumber=2.
    for (auto [offset, length] : {std::pair<std::uint64_t, std::uint64_t>{69990, 20},
                                  {70000, 50000},
                                  {119999, 2},
                                  {0, 120001}}) {
        auto reader = store().open_object("b", "m");
        ASSERT_TRUE(reader.has_value());
        ASSERT_TRUE((*reader)->set_range(offset, length).has_value());
        EXPECT_EQ(read_all(**reader, 1000), whole.substr(offset, length));
    }
    // The upload is gone once completed.
    EXPECT_EQ(store().list_parts("b", "m", upload->upload_id, 0, 10).error().code,
              ErrorCode::NotFound);
    auto uploads = store().list_multipart_uploads("b", "", "", "", 10);
    ASSERT_TRUE(uploads.has_value());
    EXPECT_TRUE(uploads->empty());
}

TEST_P(ObjectStoreContract, ReuploadingAPartReplacesIt) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    put_part("b", "m", upload->upload_id, 1, "first attempt");
    auto second = put_part("b", "m", upload->upload_id, 1, "hello world");
    auto parts = store().list_parts("b", "m", upload->upload_id, 0, 100);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].etag, kHelloWorldMd5);
    EXPECT_EQ((*parts)[0].size, 11u);
    auto done = store().complete_multipart("b", "m", upload->upload_id, {{1, second.etag}}, {}, {}, {});
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(get("b", "m"), "hello world");
}

TEST_P(ObjectStoreContract, PartChecksumsComeFromBeforeCommit) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    StringSource body("hello world");
    auto part =
        store().upload_part("b", "m", upload->upload_id, 1, body,
                            [](const BodyDigest& digest, ObjectMetadata& scratch) -> Result<void> {
                                EXPECT_EQ(digest.md5_hex, kHelloWorldMd5);
                                scratch.checksum_value = "DUoRhQ==";
                                return {};
                            });
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->checksum_value, "DUoRhQ==");
    auto parts = store().list_parts("b", "m", upload->upload_id, 0, 10);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].checksum_value, "DUoRhQ==");
}

TEST_P(ObjectStoreContract, AbortRemovesTheUploadAndItsParts) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    put_part("b", "m", upload->upload_id, 1, "part");
    ASSERT_TRUE(store().abort_multipart("b", "m", upload->upload_id).has_value());
    EXPECT_EQ(store().list_parts("b", "m", upload->upload_id, 0, 10).error().code,
              ErrorCode::NotFound);
    EXPECT_EQ(store().abort_multipart("b", "m", upload->upload_id).error().code,
              ErrorCode::NotFound);
    StringSource body("late");
    EXPECT_EQ(store().upload_part("b", "m", upload->upload_id, 2, body, {}).error().code,
              ErrorCode::NotFound);
    EXPECT_EQ(
        store().complete_multipart("b", "m", upload->upload_id, {{1, "x"}}, {}, {}, {}).error().code,
        ErrorCode::NotFound);
    EXPECT_EQ(store().head_object("b", "m").error().code, ErrorCode::NotFound);
}

TEST_P(ObjectStoreContract, UploadsBelongToTheirKey) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    EXPECT_EQ(store().get_multipart("b", "other", upload->upload_id).error().code,
              ErrorCode::NotFound);
    StringSource body("x");
    EXPECT_EQ(store().upload_part("b", "other", upload->upload_id, 1, body, {}).error().code,
              ErrorCode::NotFound);
    StringSource part_zero("x");
    EXPECT_EQ(store().upload_part("b", "m", upload->upload_id, 0, part_zero, {}).error().code,
              ErrorCode::InvalidArgument);
    StringSource part_big("x");
    EXPECT_EQ(store().upload_part("b", "m", upload->upload_id, 10001, part_big, {}).error().code,
              ErrorCode::InvalidArgument);
}

TEST_P(ObjectStoreContract, PartsAndUploadsAreListedInOrder) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    for (int number : {5, 1, 3, 2, 4}) {
        put_part("b", "m", upload->upload_id, number, std::to_string(number));
    }
    auto first = store().list_parts("b", "m", upload->upload_id, 0, 2);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(first->size(), 2u);
    EXPECT_EQ((*first)[0].number, 1);
    EXPECT_EQ((*first)[1].number, 2);
    auto rest = store().list_parts("b", "m", upload->upload_id, 2, 100);
    ASSERT_TRUE(rest.has_value());
    ASSERT_EQ(rest->size(), 3u);
    EXPECT_EQ((*rest)[0].number, 3);
    EXPECT_EQ((*rest)[2].number, 5);

    // Two uploads of one key and uploads of other keys: (key, upload id) order.
    std::vector<std::pair<std::string, std::string>> expected = {{"m", upload->upload_id}};
    for (const char* key : {"z", "m", "a/1", "\xc3\xa9"}) {
        auto another = store().create_multipart("b", key, {});
        ASSERT_TRUE(another.has_value());
        expected.emplace_back(key, another->upload_id);
    }
    std::sort(expected.begin(), expected.end());
    auto all = store().list_multipart_uploads("b", "", "", "", 1000);
    ASSERT_TRUE(all.has_value());
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& u : *all) {
        got.emplace_back(u.key, u.upload_id);
    }
    EXPECT_EQ(got, expected);

    auto limited = store().list_multipart_uploads("b", "", "", "", 2);
    ASSERT_TRUE(limited.has_value());
    EXPECT_EQ(limited->size(), 2u);
    // key_marker alone: keys after it. key_marker + upload_id_marker: that key's later uploads too.
    auto after_m = store().list_multipart_uploads("b", "", "m", "", 1000);
    ASSERT_TRUE(after_m.has_value());
    for (const auto& u : *after_m) {
        EXPECT_GT(u.key, "m");
    }
    std::vector<std::string> m_ids;
    for (const auto& [key, id] : expected) {
        if (key == "m") {
            m_ids.push_back(id);
        }
    }
    ASSERT_EQ(m_ids.size(), 2u);
    auto within_m = store().list_multipart_uploads("b", "", "m", m_ids[0], 1000);
    ASSERT_TRUE(within_m.has_value());
    ASSERT_FALSE(within_m->empty());
    EXPECT_EQ((*within_m)[0].key, "m");
    EXPECT_EQ((*within_m)[0].upload_id, m_ids[1]);
    auto prefixed = store().list_multipart_uploads("b", "a/", "", "", 1000);
    ASSERT_TRUE(prefixed.has_value());
    ASSERT_EQ(prefixed->size(), 1u);
    EXPECT_EQ((*prefixed)[0].key, "a/1");
}

TEST_P(ObjectStoreContract, CompleteWithAStaleEtagIsPreconditionFailed) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    auto p1 = put_part("b", "m", upload->upload_id, 1, "one");
    auto p2 = put_part("b", "m", upload->upload_id, 2, "two");
    // Part 2 is uploaded again after the client listed it.
    put_part("b", "m", upload->upload_id, 2, "two, again");
    auto stale = store().complete_multipart("b", "m", upload->upload_id,
                                            {{1, p1.etag}, {2, p2.etag}}, {}, {}, {});
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(store().head_object("b", "m").error().code, ErrorCode::NotFound);
    auto missing = store().complete_multipart("b", "m", upload->upload_id,
                                              {{1, p1.etag}, {7, p1.etag}}, {}, {}, {});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::PreconditionFailed);
    // Still completable with the current ETags.
    auto parts = store().list_parts("b", "m", upload->upload_id, 0, 10);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 2u);
    auto done = store().complete_multipart("b", "m", upload->upload_id,
                                           {{1, (*parts)[0].etag}, {2, (*parts)[1].etag}}, {}, {}, {});
    ASSERT_TRUE(done.has_value()) << done.error().message;
    EXPECT_EQ(get("b", "m"), "onetwo, again");
}

TEST_P(ObjectStoreContract, CompleteRefusesMalformedPartLists) {
    make_bucket("b");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    auto p1 = put_part("b", "m", upload->upload_id, 1, "one");
    auto p2 = put_part("b", "m", upload->upload_id, 2, "two");
    EXPECT_EQ(store().complete_multipart("b", "m", upload->upload_id, {}, {}, {}, {}).error().code,
              ErrorCode::InvalidArgument);
    EXPECT_EQ(
        store()
            .complete_multipart("b", "m", upload->upload_id, {{2, p2.etag}, {1, p1.etag}}, {}, {}, {})
            .error()
            .code,
        ErrorCode::InvalidArgument);
    EXPECT_EQ(
        store()
            .complete_multipart("b", "m", upload->upload_id, {{1, p1.etag}, {1, p1.etag}}, {}, {}, {})
            .error()
            .code,
        ErrorCode::InvalidArgument);
    EXPECT_EQ(
        store().complete_multipart("b", "m", "no-such-upload", {{1, p1.etag}}, {}, {}, {}).error().code,
        ErrorCode::NotFound);
    // A BeforeCommit refusal leaves the upload as it was.
    auto refused = store().complete_multipart(
        "b", "m", upload->upload_id, {{1, p1.etag}}, {},
        [](const BodyDigest&, ObjectMetadata&) -> Result<void> {
            return make_error(ErrorCode::InvalidArgument, "checksum mismatch");
        }, {});
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(store().list_parts("b", "m", upload->upload_id, 0, 10)->size(), 2u);
    // Unlisted parts are dropped by Complete.
    auto done = store().complete_multipart("b", "m", upload->upload_id, {{2, p2.etag}}, {}, {}, {});
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(get("b", "m"), "two");
    EXPECT_EQ(done->etag.substr(done->etag.size() - 2), "-1");
}

TEST_P(ObjectStoreContract, CompleteEvaluatesConditionsAndReplacesObjects) {
    make_bucket("b");
    auto old = put("b", "m", "old object");
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    auto p1 = put_part("b", "m", upload->upload_id, 1, "new");
    PutConditions create_only;
    create_only.if_none_match_any = true;
    auto refused =
        store().complete_multipart("b", "m", upload->upload_id, {{1, p1.etag}}, create_only, {}, {});
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(get("b", "m"), "old object");
    PutConditions if_match;
    if_match.if_match = old.etag;
    auto done =
        store().complete_multipart("b", "m", upload->upload_id, {{1, p1.etag}}, if_match, {}, {});
    ASSERT_TRUE(done.has_value()) << done.error().message;
    EXPECT_EQ(get("b", "m"), "new");
    // A single PUT over a multipart object drops the part sizes.
    put("b", "m", "single");
    EXPECT_TRUE(store().head_object("b", "m")->part_sizes.empty());
}

TEST_P(ObjectStoreContract, AnOpenReaderIsUnaffectedByOverwriteAndDelete) {
    make_bucket("b");
    std::string original = pattern_bytes(300000);
    put("b", "k", original);
    auto reader = store().open_object("b", "k");
    ASSERT_TRUE(reader.has_value());
    char first[1000];
    auto n = (*reader)->read(std::span<char>(first, sizeof first));
    ASSERT_TRUE(n.has_value());
    put("b", "k", "replacement");
    EXPECT_EQ(get("b", "k"), "replacement");
    std::string rest = read_all(**reader);
    EXPECT_EQ(std::string(first, *n) + rest, original);

    auto second = store().open_object("b", "k");
    ASSERT_TRUE(second.has_value());
    ASSERT_TRUE(store().delete_object("b", "k", {}).has_value());
    EXPECT_EQ(store().head_object("b", "k").error().code, ErrorCode::NotFound);
    EXPECT_EQ(read_all(**second), "replacement");
    EXPECT_EQ((*second)->info().size, 11u);

    // Multipart objects too: every segment stays readable.
    auto upload = store().create_multipart("b", "m", {});
    ASSERT_TRUE(upload.has_value());
    auto p1 = put_part("b", "m", upload->upload_id, 1, pattern_bytes(5000));
    auto p2 = put_part("b", "m", upload->upload_id, 2, pattern_bytes(5000, 1));
    ASSERT_TRUE(
        store()
            .complete_multipart("b", "m", upload->upload_id, {{1, p1.etag}, {2, p2.etag}}, {}, {}, {})
            .has_value());
    auto multipart_reader = store().open_object("b", "m");
    ASSERT_TRUE(multipart_reader.has_value());
    ASSERT_TRUE(store().delete_object("b", "m", {}).has_value());
    EXPECT_EQ(read_all(**multipart_reader, 3000), pattern_bytes(5000) + pattern_bytes(5000, 1));
}

TEST_P(ObjectStoreContract, SixteenThreadsPutConcurrently) {
    make_bucket("b");
    constexpr int kThreads = 16;
    constexpr int kPerThread = 25;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                std::string key = std::string("t") + std::to_string(t) + "/" + std::to_string(i);
                StringSource body(key + std::string(4096, 'x'));
                if (!store().put_object("b", key, body, {}, {}, {}, {})) {
                    ++failures;
                }
                // Everyone also overwrites one shared key, and reads while others write.
                StringSource shared("from " + std::to_string(t));
                if (!store().put_object("b", "shared", shared, {}, {}, {}, {})) {
                    ++failures;
                }
                if (!store().list_objects("b", {})) {
                    ++failures;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(failures.load(), 0);
    ListQuery query;
    auto all = list_all("b", query, 1000);
    EXPECT_EQ(all.objects.size(), static_cast<std::size_t>(kThreads * kPerThread + 1));
    for (int t = 0; t < kThreads; ++t) {
        std::string key =
            std::string("t") + std::to_string(t) + "/" + std::to_string(kPerThread - 1);
        EXPECT_EQ(get("b", key), key + std::string(4096, 'x'));
    }
    EXPECT_EQ(get("b", "shared").substr(0, 5), "from ");
}

TEST_P(ObjectStoreContract, ConcurrentConditionalCreatesHaveExactlyOneWinner) {
    make_bucket("b");
    std::atomic<int> won{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&, t] {
            PutConditions create_only;
            create_only.if_none_match_any = true;
            StringSource body("writer " + std::to_string(t));
            auto r = store().put_object("b", "lock", body, {}, create_only, {}, {});
            if (r) {
                ++won;
            } else if (r.error().code == ErrorCode::PreconditionFailed) {
                ++refused;
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(refused.load(), 15);
}

}  // namespace
}  // namespace pf::storage::test
