// The ObjectStore contract: behaviour every implementation must have, written once against the
// interface. An implementation plugs in with a StoreFactory:
//
//   INSTANTIATE_TEST_SUITE_P(MyStore, ObjectStoreContract,
//                            ::testing::Values(StoreFactory{"MyStore", open_my_store}),
//                            StoreFactory::name_of);
#pragma once

#include "storage/object_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace pf::storage::test {

struct StoreFactory {
    std::string name;
    // A fresh, empty store keeping its data under `dir` (which exists and is empty).
    std::function<std::unique_ptr<ObjectStore>(const std::filesystem::path& dir)> open;

    static std::string name_of(const ::testing::TestParamInfo<StoreFactory>& info) {
        return info.param.name;
    }
};
inline void PrintTo(const StoreFactory& factory, std::ostream* out) {
    *out << factory.name;
}

// A body served from memory in chunks of a fixed size (bodies arrive in pieces from sockets).
class StringSource : public ByteSource {
public:
    explicit StringSource(std::string data, std::size_t chunk = 64 * 1024)
        : data_(std::move(data)), chunk_(chunk) {}
    Result<std::size_t> read(std::span<char> out) override {
        std::size_t n = std::min({out.size(), chunk_, data_.size() - offset_});
        std::copy_n(data_.data() + offset_, n, out.data());
        offset_ += n;
        return n;
    }

private:
    std::string data_;
    std::size_t chunk_;
    std::size_t offset_ = 0;
};

// Yields `good` bytes, then fails like a body whose checksum did not match.
class FailingSource : public ByteSource {
public:
    explicit FailingSource(std::size_t good) : good_(good) {}
    Result<std::size_t> read(std::span<char> out) override {
        if (sent_ >= good_) {
            return make_error(ErrorCode::InvalidArgument, "body checksum mismatch");
        }
        std::size_t n = std::min(out.size(), good_ - sent_);
        std::fill_n(out.data(), n, 'x');
        sent_ += n;
        return n;
    }

private:
    std::size_t good_;
    std::size_t sent_ = 0;
};

// Bytes i % 251 for i in [0, size): deterministic, not periodic at any power of two.
std::string pattern_bytes(std::size_t size, std::size_t start = 0);

// Reads a reader to the end in reads of `chunk` bytes; fails the test on an error.
std::string read_all(ObjectStore::Reader& reader, std::size_t chunk = 7777);

class ObjectStoreContract : public ::testing::TestWithParam<StoreFactory> {
protected:
    void SetUp() override;
    void TearDown() override;

    ObjectStore& store() { return *store_; }
    const std::filesystem::path& dir() const { return dir_->path(); }

    // put_object with defaults; fails the test when it fails.
    ObjectInfo put(const std::string& bucket, const std::string& key, const std::string& body,
                   ObjectMetadata metadata = {});
    Result<ObjectInfo> try_put(const std::string& bucket, const std::string& key,
                               const std::string& body, const PutConditions& conditions = {},
                               const BeforeCommit& before_commit = {});
    // The whole object's bytes; fails the test when it cannot be opened.
    std::string get(const std::string& bucket, const std::string& key);
    void make_bucket(const std::string& name);
    // Every key and common prefix, page by page with the given page size.
    ListPage list_all(const std::string& bucket, ListQuery query, std::size_t page_size);
    PartInfo put_part(const std::string& bucket, const std::string& key,
                      const std::string& upload_id, int number, const std::string& body);

    std::unique_ptr<pf::test::TempDir> dir_;
    std::unique_ptr<ObjectStore> store_;
};

}  // namespace pf::storage::test
