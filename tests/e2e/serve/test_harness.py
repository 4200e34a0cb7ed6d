"""Self-test of the harness's own signer and checksum helpers against the fact sheet's vectors
(/work/shared/reference/aws-protocols.md section 2.7) and botocore's SigV4Auth, so that a failure
in the other modules is the server's, not the test tool's. Needs no server."""
import hashlib
import unittest

from harness import (Credentials, aws_chunked_signed, canonical_query, crc32_b64, crc32c_b64,
                     multipart_etag_of_parts, presign_v4, sign_v4, signed_chunked_content_length,
                     signing_key, EMPTY_SHA256)

EX = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
DATE = "20130524T000000Z"


class SignerVectors(unittest.TestCase):
    def test_get_object_with_range(self):
        s = sign_v4("GET", "http://examplebucket.s3.amazonaws.com/test.txt", {"Range": "bytes=0-9"},
                    EMPTY_SHA256, EX, amz_date=DATE)
        self.assertEqual(hashlib.sha256(s.canonical_request.encode()).hexdigest(),
                         "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        self.assertEqual(s.signature,
                         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")

    def test_put_object_with_encoded_key(self):
        body = b"Welcome to Amazon S3."
        s = sign_v4("PUT", "http://examplebucket.s3.amazonaws.com/test%24file.text",
                    {"Date": "Fri, 24 May 2013 00:00:00 GMT",
                     "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                    hashlib.sha256(body).hexdigest(), EX, amz_date=DATE)
        self.assertEqual(s.signature,
                         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")

    def test_query_canonicalisation(self):
        s = sign_v4("GET", "http://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", None,
                    EMPTY_SHA256, EX, amz_date=DATE)
        self.assertEqual(s.signature,
                         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
        s = sign_v4("GET", "http://examplebucket.s3.amazonaws.com/?lifecycle", None,
                    EMPTY_SHA256, EX, amz_date=DATE)
        self.assertEqual(s.signature,
                         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        self.assertEqual(canonical_query("b=2&a=x%2By+z&uploads"), "a=x%2By%20z&b=2&uploads=")

    def test_presign(self):
        url = presign_v4("GET", "https://examplebucket.s3.amazonaws.com/test.txt", EX,
                         expires=86400, amz_date=DATE)
        self.assertTrue(url.endswith(
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"), url)

    def test_signed_chunks(self):
        s = sign_v4("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt",
                    {"Content-Encoding": "aws-chunked", "Content-Length": "66824",
                     "x-amz-decoded-content-length": "66560",
                     "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", EX, amz_date=DATE)
        self.assertEqual(s.signature,
                         "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        body = aws_chunked_signed([b"a" * 65536, b"a" * 1024], s)
        self.assertEqual(len(body), 66824)
        self.assertEqual(signed_chunked_content_length([65536, 1024]), 66824)
        for sig in ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"):
            self.assertIn(sig.encode(), body)

    def test_signed_chunks_with_trailer(self):
        s = sign_v4("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt",
                    {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "66560",
                     "x-amz-storage-class": "REDUCED_REDUNDANCY",
                     "x-amz-trailer": "x-amz-checksum-crc32c"},
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", EX, amz_date=DATE)
        self.assertEqual(s.signature,
                         "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")
        self.assertEqual(crc32c_b64(b"a" * 66560), "sOO8/Q==")
        body = aws_chunked_signed([b"a" * 65536, b"a" * 1024], s,
                                  trailers=[("x-amz-checksum-crc32c", "sOO8/Q==")])
        self.assertIn(b"x-amz-trailer-signature:"
                      b"d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n",
                      body)

    def test_checksums_and_multipart_etag(self):
        self.assertEqual(crc32_b64(b"hello world"), "DUoRhQ==")
        self.assertEqual(crc32c_b64(b"hello world"), "yZRlqg==")
        self.assertEqual(crc32_b64(b""), "AAAAAA==")
        self.assertEqual(multipart_etag_of_parts([b"a" * 5242880, b"hello world"]),
                         "4ba54d90a25d93d94b7b41c987352341-2")

    def test_matches_botocore(self):
        """Same signature as botocore's S3SigV4Auth for a request with an odd key and query."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials as BC
        import datetime
        from unittest import mock
        url = "http://127.0.0.1:9000/photos/a%20b%2Bc/%C3%BC.txt?list-type=2&prefix=a%2Fb"
        req = AWSRequest("GET", url, headers={"x-amz-meta-Owner": "bob"})
        req.context["payload_signing_enabled"] = True
        fixed = datetime.datetime(2026, 1, 2, 3, 4, 5)
        with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
            req.headers["X-Amz-Content-SHA256"] = EMPTY_SHA256
            S3SigV4Auth(BC(EX.access_key, EX.secret_key), "s3", "us-east-1").add_auth(req)
        theirs = req.headers["Authorization"].split("Signature=")[1]
        s = sign_v4("GET", url, {"x-amz-meta-Owner": "bob"}, EMPTY_SHA256, EX,
                    amz_date="20260102T030405Z")
        self.assertEqual(s.signature, theirs, s.canonical_request)

    def test_post_policy_signature(self):
        import hmac
        key = signing_key(EX.secret_key, "20151229")
        pol = ("eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7"
               "ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNl"
               "ci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVk"
               "aXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBs"
               "b2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAg"
               "eyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVu"
               "Y3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0s"
               "DQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFz"
               "dC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYi"
               "fSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9")
        self.assertEqual(hmac.new(key, pol.encode(), hashlib.sha256).hexdigest(),
                         "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e")


if __name__ == "__main__":
    unittest.main()
