// ObjectStore: buckets, objects and multipart uploads, with S3's semantics where they belong to the
// data (atomic visibility of a put, MD5 ETags, multipart ETags, byte-order listings) and none of
// its protocol (no XML, no auth, no headers). DiskStore is the implementation serve uses; the
// contract tests in tests/storage run against every implementation.
//
// Durability contract: when put_object / complete_multipart returns success, the object's bytes
// and its index entry are on stable storage. A failed or interrupted write leaves nothing visible.
// The object writes take a ChangeCause: an implementation with an event outbox (DiskStore) records
// the change's S3 events in the same transaction as the change.
#pragma once

#include "base/byte_stream.h"
#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pf::storage {

using TimePoint = std::chrono::system_clock::time_point;

// What S3 calls system and user metadata, stored verbatim.
struct ObjectMetadata {
    std::string content_type;
    std::string content_encoding;
    std::string content_disposition;
    std::string cache_control;
    std::string content_language;
    std::string expires;
    // x-amz-meta-<name>: names lowercased without the prefix, in the order given.
    std::vector<std::pair<std::string, std::string>> user;
    // Flexible checksum of the object ("CRC32", base64 value, "FULL_OBJECT" | "COMPOSITE").
    std::string checksum_algorithm;
    std::string checksum_value;
    std::string checksum_type;
    // Tags etc. may be added later; unknown fields are kept by the store as an opaque JSON text.
};

struct ObjectInfo {
    std::string bucket;
    std::string key;
    std::uint64_t size = 0;
    std::string etag;         // unquoted: 32 hex chars, or "<hex>-<parts>" for multipart objects
    TimePoint last_modified;  // whole seconds (S3 headers and XML must agree; sync compares)
    ObjectMetadata metadata;
    // For objects made by multipart upload: the size of each part, in order (GET ?partNumber=N).
    std::vector<std::uint64_t> part_sizes;
};

struct BucketInfo {
    std::string name;
    TimePoint created;
    std::string region;
};

// What the store learned while streaming a body, handed to the caller before the commit.
struct BodyDigest {
    std::uint64_t size = 0;
    std::string md5_hex;
};

// Runs after the body is written and flushed to disk and before the index commit. The caller
// verifies what it computed while streaming (checksums, declared lengths) and may fill in the
// metadata (checksum values); an error aborts the write and nothing becomes visible.
using BeforeCommit = std::function<Result<void>(const BodyDigest&, ObjectMetadata&)>;

// Why an object changed, carried into the S3 event the change produces (aws-protocols.md §3.3):
// the S3 layer fills it from the request. An empty event_name means the write is internal (no
// event is recorded for it); pass {}.
struct ChangeCause {
    std::string event_name;    // "ObjectCreated:Put", "ObjectRemoved:Delete" (no "s3:" prefix)
    std::string request_id;    // the x-amz-request-id the response carries
    std::string host_id;       // the x-amz-id-2 the response carries
    std::string source_ip;     // the client's address, without the port
    std::string principal_id;  // "AWS:<access key id>" or "Anonymous"
    std::string trace_id;      // X-Amzn-Trace-Id, passed on to whatever the event triggers
};

struct PutConditions {
    bool if_none_match_any = false;  // If-None-Match: * -> PreconditionFailed if it exists
    // ETag the current object must have (quotes ignored; "*": any). No object: NotFound, as S3
    // answers 404 NoSuchKey.
    std::optional<std::string> if_match;
};

// Byte-order listing (keys compared as raw bytes).
struct ListQuery {
    std::string prefix;
    std::string delimiter;    // empty: no rollup
    std::string start_after;  // exclusive; may be a key or a common prefix returned earlier
    std::size_t max_keys = 1000;
};
struct ObjectSummary {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
    TimePoint last_modified;
    std::string checksum_algorithm;
};
struct ListPage {
    std::vector<ObjectSummary> objects;
    std::vector<std::string> common_prefixes;
    bool truncated = false;
    // When truncated: the last key or common prefix returned; pass it as start_after to continue.
    std::string resume_after;
};

struct PartInfo {
    int number = 0;
    std::uint64_t size = 0;
    std::string etag;  // unquoted MD5 hex of the part
    TimePoint last_modified;
    std::string checksum_value;  // base64, when the caller filled it in BeforeCommit
};
struct UploadInfo {
    std::string key;
    std::string upload_id;
    TimePoint initiated;
    ObjectMetadata metadata;
};
struct CompletedPart {
    int number = 0;
    std::string etag;  // unquoted
};

// Error codes used: NotFound (bucket, key or upload missing; the message says which: the S3 layer
// distinguishes them with head_bucket), AlreadyExists (bucket), PreconditionFailed (conditions,
// bucket not empty, a completed part list that no longer matches), InvalidArgument (bad names,
// keys), Unavailable (disk full, store read-only after an I/O failure: retry later / elsewhere),
// Internal.
class ObjectStore {
public:
    virtual ~ObjectStore() = default;

    // Buckets
    virtual Result<BucketInfo> create_bucket(const std::string& name,
                                             const std::string& region) = 0;
    virtual Result<BucketInfo> head_bucket(const std::string& name) = 0;
    virtual Result<std::vector<BucketInfo>> list_buckets() = 0;
    // PreconditionFailed when not empty (objects or multipart uploads in progress).
    virtual Result<void> delete_bucket(const std::string& name) = 0;
    // Per-bucket configuration documents (notification, cors, acl, ...), stored verbatim.
    virtual Result<void> put_bucket_config(const std::string& bucket, const std::string& name,
                                           const std::string& document) = 0;
    virtual Result<std::optional<std::string>> get_bucket_config(const std::string& bucket,
                                                                 const std::string& name) = 0;
    // Removes a configuration document (DeleteBucketCors, ...); true when one existed.
    virtual Result<bool> delete_bucket_config(const std::string& bucket,
                                              const std::string& name) = 0;

    // Objects
    virtual Result<ObjectInfo> put_object(const std::string& bucket, const std::string& key,
                                          ByteSource& body, ObjectMetadata metadata,
                                          const PutConditions& conditions,
                                          const BeforeCommit& before_commit,
                                          const ChangeCause& cause) = 0;
    virtual Result<ObjectInfo> head_object(const std::string& bucket, const std::string& key) = 0;

    // A consistent view of one object version: later puts or deletes of the key do not affect
    // an open reader.
    class Reader : public ByteSource {
    public:
        virtual const ObjectInfo& info() const = 0;
        // Restricts reading to [offset, offset + length); call before the first read.
        virtual Result<void> set_range(std::uint64_t offset, std::uint64_t length) = 0;
    };
    virtual Result<std::unique_ptr<Reader>> open_object(const std::string& bucket,
                                                        const std::string& key) = 0;
    // true when something was deleted. Only a delete that removed an object records a change
    // (and with it an event).
    virtual Result<bool> delete_object(const std::string& bucket, const std::string& key,
                                       const ChangeCause& cause) = 0;
    virtual Result<ListPage> list_objects(const std::string& bucket, const ListQuery& query) = 0;

    // Multipart uploads
    virtual Result<UploadInfo> create_multipart(const std::string& bucket, const std::string& key,
                                                ObjectMetadata metadata) = 0;
    virtual Result<UploadInfo> get_multipart(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id) = 0;
    // Re-uploading a part number replaces it. The BeforeCommit metadata argument is scratch space
    // whose checksum_value is kept as the part's checksum.
    virtual Result<PartInfo> upload_part(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         ByteSource& body, const BeforeCommit& before_commit) = 0;
    // Parts in ascending number, starting after `after_part`, at most max_parts.
    virtual Result<std::vector<PartInfo>> list_parts(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id, int after_part,
                                                     std::size_t max_parts) = 0;
    // Uploads in (key, upload id) order after the given markers.
    virtual Result<std::vector<UploadInfo>>
    list_multipart_uploads(const std::string& bucket, const std::string& prefix,
                           const std::string& key_marker, const std::string& upload_id_marker,
                           std::size_t max_uploads) = 0;
    virtual Result<void> abort_multipart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id) = 0;
    // Assembles the listed parts (already validated by the caller against list_parts; the store
    // re-checks that each still has the given ETag: PreconditionFailed if not). The object's ETag
    // is MD5 of the concatenated binary part MD5s + "-N". `before_commit` sees the final digest
    // (size, multipart ETag as md5_hex) and the upload's metadata.
    virtual Result<ObjectInfo> complete_multipart(const std::string& bucket, const std::string& key,
                                                  const std::string& upload_id,
                                                  const std::vector<CompletedPart>& parts,
                                                  const PutConditions& conditions,
                                                  const BeforeCommit& before_commit,
                                                  const ChangeCause& cause) = 0;

    // Whether writes are accepted (Unavailable with the reason when the store latched read-only).
    virtual Result<void> writable() const = 0;
};

}  // namespace pf::storage
