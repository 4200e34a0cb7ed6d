#include "notify/message_signer.h"

#include "aws/time_format.h"
#include "base/file_io.h"
#include "base/logging.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <utility>

namespace pf::notify {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> logger() {
    static auto log = component_logger("notify");
    return log;
}

// A PEM key or certificate is a few KB; a larger file is certainly not ours.
constexpr std::uint64_t kMaxPemFileBytes = 64 * 1024;
constexpr std::string_view kLockFileName = ".sns-signing.lock";

Error io_error(const std::string& what, const fs::path& path, int err) {
    const ErrorCode code = (err == ENOSPC || err == EDQUOT)  ? ErrorCode::Unavailable
                           : (err == EACCES || err == EPERM) ? ErrorCode::Forbidden
                           : err == ENOENT                   ? ErrorCode::NotFound
                                                             : ErrorCode::Internal;
    return make_error(code, what + " " + path.string() + ": " + std::strerror(err));
}

// The file descriptor of an exclusively flock()ed lock file; closing it releases the lock. Two
// `serve` processes started on one state directory would otherwise both generate a key and could
// leave one's key beside the other's certificate.
class FileLock {
public:
    explicit FileLock(int fd) : fd_(fd) {}
    FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FileLock& operator=(FileLock&&) = delete;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

private:
    int fd_;
};

Result<FileLock> lock_exclusive(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return io_error("cannot open lock file", path, errno);
    }
    FileLock lock(fd);
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            return io_error("cannot lock", path, errno);
        }
    }
    return lock;
}

Result<bool> file_exists(const fs::path& path) {
    std::error_code ec;
    const bool found = fs::exists(path, ec);
    if (ec) {
        return io_error("cannot look up", path, ec.value());
    }
    return found;
}

Result<void> fsync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return io_error("cannot open directory", dir, errno);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
        return io_error("cannot fsync directory", dir, err);
    }
    return {};
}

// temp -> fsync -> rename -> fsync(dir), like base's write_file_atomic, but the temp file is
// created with `mode` already set: a private key must never exist, even for a moment, with the
// umask's default (often world-readable) permissions.
Result<void> write_file_with_mode(const fs::path& path, std::string_view bytes, mode_t mode) {
    const fs::path dir = path.parent_path();
    // A random suffix: a temp file left by a crash can never collide with a new one.
    const fs::path tmp = dir / ("." + path.filename().string() + ".tmp." + crypto::random_hex(8));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return io_error("cannot create", tmp, errno);
    }
    auto fail = [&](const std::string& what, int err) -> Error {
        ::close(fd);
        ::unlink(tmp.c_str());
        return io_error(what, path, err);
    };
    // open() applied the umask; fchmod sets exactly `mode` whatever the umask was.
    if (::fchmod(fd, mode) != 0) {
        return fail("cannot set mode of", errno);
    }
    for (std::string_view rest = bytes; !rest.empty();) {
        const ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail("cannot write", errno);
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd) != 0) {
        return fail("cannot fsync", errno);
    }
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot write", path, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot rename into", path, err);
    }
    // Without this a crash could forget the rename after signatures made with the key went out.
    return fsync_directory(dir);
}

std::string recovery_advice(const fs::path& key_path, const fs::path& cert_path) {
    return "restore both files from a backup, or remove " + key_path.string() + " and " +
           cert_path.string() +
           " to generate a new pair (receivers that verify signatures must then fetch the new "
           "certificate)";
}

}  // namespace

MessageSigner::MessageSigner(crypto::RsaPrivateKey key, std::string certificate_pem,
                             std::string certificate_file_name)
    : key_(std::move(key)), certificate_pem_(std::move(certificate_pem)),
      certificate_file_name_(std::move(certificate_file_name)) {}

Result<MessageSigner> MessageSigner::from_pem(std::string_view key_pem,
                                              std::string_view certificate_pem) {
    auto key = crypto::RsaPrivateKey::from_pem(key_pem);
    if (!key) {
        return make_error(ErrorCode::CorruptInput,
                          "SNS signing key is unusable: " + key.error().message);
    }
    auto info = crypto::parse_certificate(certificate_pem);
    if (!info) {
        return make_error(ErrorCode::CorruptInput,
                          "SNS signing certificate is unusable: " + info.error().message);
    }
    auto matches = key->matches_certificate(certificate_pem);
    if (!matches) {
        return make_error(ErrorCode::CorruptInput,
                          "SNS signing certificate is unusable: " + matches.error().message);
    }
    if (!*matches) {
        return make_error(ErrorCode::CorruptInput,
                          "SNS signing certificate does not belong to the signing key");
    }
    if (info->not_after <= std::chrono::system_clock::now()) {
        return make_error(ErrorCode::PreconditionFailed,
                          "SNS signing certificate expired at " +
                              aws::format_iso8601_millis(info->not_after));
    }
    std::string file_name =
        "SimpleNotificationService-" + crypto::sha256_hex(info->der).substr(0, 32) + ".pem";
    return MessageSigner(std::move(*key), std::string(certificate_pem), std::move(file_name));
}

Result<MessageSigner> MessageSigner::load_or_create(const fs::path& dir,
                                                    std::string_view common_name) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return io_error("cannot create directory", dir, ec.value());
    }
    auto lock = lock_exclusive(dir / kLockFileName);
    if (!lock) {
        return lock.error();
    }
    const fs::path key_path = dir / kKeyFileName;
    const fs::path cert_path = dir / kCertificateFileName;
    auto key_exists = file_exists(key_path);
    if (!key_exists) {
        return key_exists.error();
    }
    auto cert_exists = file_exists(cert_path);
    if (!cert_exists) {
        return cert_exists.error();
    }

    if (!*key_exists && *cert_exists) {
        return make_error(ErrorCode::PreconditionFailed,
                          cert_path.string() + " exists but its private key " + key_path.string() +
                              " does not: " + recovery_advice(key_path, cert_path));
    }
    // The key is written first: a start interrupted between the two writes leaves a key without
    // a certificate, which the branch below completes. Nobody can have verified against a
    // certificate that was never written, so making one then changes nothing for anyone.
    if (!*key_exists) {
        auto key = crypto::RsaPrivateKey::generate();
        if (!key) {
            return key.error();
        }
        if (auto written = write_file_with_mode(key_path, key->to_pem(), 0600); !written) {
            return written.error();
        }
    }
    if (!*cert_exists) {
        auto key_pem = read_file(key_path, kMaxPemFileBytes);
        if (!key_pem) {
            return key_pem.error();
        }
        auto key = crypto::RsaPrivateKey::from_pem(*key_pem);
        if (!key) {
            return make_error(ErrorCode::CorruptInput, key_path.string() + ": " +
                                                           key.error().message + "; " +
                                                           recovery_advice(key_path, cert_path));
        }
        auto cert = key->self_signed_certificate_pem(common_name, kCertificateValidityDays);
        if (!cert) {
            return cert.error();
        }
        if (auto written = write_file_with_mode(cert_path, *cert, 0644); !written) {
            return written.error();
        }
        if (*key_exists) {
            logger()->warn("event=sns_signing_certificate_created_for_existing_key key={} cert={}",
                           key_path.string(), cert_path.string());
        } else {
            logger()->info("event=sns_signing_pair_created key={} cert={} common_name={}",
                           key_path.string(), cert_path.string(), common_name);
        }
    }

    // Always load what is on disk, so a first start exercises the same path as every later one.
    auto key_pem = read_file(key_path, kMaxPemFileBytes);
    if (!key_pem) {
        return make_error(key_pem.error().code == ErrorCode::TooLarge ? ErrorCode::CorruptInput
                                                                      : key_pem.error().code,
                          key_pem.error().message);
    }
    auto cert_pem = read_file(cert_path, kMaxPemFileBytes);
    if (!cert_pem) {
        return make_error(cert_pem.error().code == ErrorCode::TooLarge ? ErrorCode::CorruptInput
                                                                       : cert_pem.error().code,
                          cert_pem.error().message);
    }
    auto signer = from_pem(*key_pem, *cert_pem);
    if (!signer) {
        return make_error(signer.error().code, signer.error().message + " (" + key_path.string() +
                                                   ", " + cert_path.string() + "); " +
                                                   recovery_advice(key_path, cert_path));
    }
    return signer;
}

Result<std::string> MessageSigner::sign_base64(int signature_version,
                                               std::string_view string_to_sign) const {
    crypto::SignatureDigest digest;
    switch (signature_version) {
    case 1:
        digest = crypto::SignatureDigest::Sha1;
        break;
    case 2:
        digest = crypto::SignatureDigest::Sha256;
        break;
    default:
        return make_error(ErrorCode::InvalidArgument, "SignatureVersion must be 1 or 2, got " +
                                                          std::to_string(signature_version));
    }
    auto signature = key_.sign(digest, string_to_sign);
    if (!signature) {
        return signature.error();
    }
    return crypto::base64_encode(*signature);
}

}  // namespace pf::notify
