#include "s3api/operation_name.h"

namespace pf::s3api {

std::string_view operation_name(const S3Request& req) {
    const std::string& method = req.http->method;
    if (method == "OPTIONS") return "PreflightRequest";
    if (req.bucket.empty()) return method == "GET" ? "ListBuckets" : "Other";
    if (req.key.empty()) {
        if (method == "GET") {
            if (req.has("location")) return "GetBucketLocation";
            if (req.has("notification")) return "GetBucketNotificationConfiguration";
            if (req.has("acl")) return "GetBucketAcl";
            if (req.has("versioning")) return "GetBucketVersioning";
            if (req.has("uploads")) return "ListMultipartUploads";
            if (req.has("versions")) return "ListObjectVersions";
            if (req.has("cors")) return "GetBucketCors";
            return req.param("list-type") == "2" ? "ListObjectsV2" : "ListObjects";
        }
        if (method == "PUT") {
            if (req.has("notification")) return "PutBucketNotificationConfiguration";
            if (req.has("acl")) return "PutBucketAcl";
            if (req.has("cors")) return "PutBucketCors";
            return "CreateBucket";
        }
        if (method == "HEAD") return "HeadBucket";
        if (method == "DELETE") return req.has("cors") ? "DeleteBucketCors" : "DeleteBucket";
        if (method == "POST") return req.has("delete") ? "DeleteObjects" : "PostObject";
        return "Other";
    }
    bool copy = req.http->header("x-amz-copy-source").has_value();
    if (method == "PUT") {
        if (req.has("uploadId") || req.has("partNumber")) return copy ? "UploadPartCopy" : "UploadPart";
        if (req.has("acl")) return "PutObjectAcl";
        if (req.has("tagging")) return "PutObjectTagging";
        return copy ? "CopyObject" : "PutObject";
    }
    if (method == "GET" || method == "HEAD") {
        if (req.has("uploadId")) return "ListParts";
        if (req.has("acl")) return "GetObjectAcl";
        if (req.has("tagging")) return "GetObjectTagging";
        return method == "HEAD" ? "HeadObject" : "GetObject";
    }
    if (method == "DELETE") return req.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    if (method == "POST") {
        if (req.has("uploads")) return "CreateMultipartUpload";
        if (req.has("uploadId")) return "CompleteMultipartUpload";
    }
    return "Other";
}

}  // namespace pf::s3api
