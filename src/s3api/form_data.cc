#include "s3api/form_data.h"
#include "base/ascii.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pf::s3api {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxHeaderBlock = 8 * 1024;

Error malformed(std::string what) {
    return make_error(ErrorCode::InvalidArgument, "malformed form data: " + what,
                      "The body of your POST request is not well-formed multipart/form-data: " + what);
}

// Value of a parameter in a Content-Disposition header: name="x" or name=x.
std::optional<std::string> disposition_param(std::string_view header, std::string_view param) {
    std::string lowered = ascii_lowercase(header);
    std::string needle = std::string(param) + "=";
    std::size_t pos = 0;
    while ((pos = lowered.find(needle, pos)) != std::string::npos) {
        bool at_start = pos == 0 || lowered[pos - 1] == ';' || lowered[pos - 1] == ' ';
        pos += needle.size();
        if (!at_start) {
            continue;
        }
        if (pos < header.size() && header[pos] == '"') {
            auto end = header.find('"', pos + 1);
            if (end == std::string_view::npos) {
                return std::nullopt;
            }
            return std::string(header.substr(pos + 1, end - pos - 1));
        }
        auto end = header.find(';', pos);
        return std::string(header.substr(pos, end == std::string_view::npos ? end : end - pos));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
    auto value = disposition_param(content_type, "boundary");
    if (!value || value->empty() || value->size() > 200) {
        return std::nullopt;
    }
    return value;
}

class FormDataReader::FileSource : public ByteSource {
public:
    explicit FileSource(FormDataReader& reader) : reader_(reader) {}
    Result<std::size_t> read(std::span<char> out) override {
        if (done_) {
            return std::size_t{0};
        }
        auto& r = reader_;
        while (true) {
            std::string_view avail(r.buffer_.data() + r.pos_, r.buffer_.size() - r.pos_);
            auto hit = avail.find(r.delimiter_);
            if (hit != std::string_view::npos) {
                if (hit == 0) {
                    r.pos_ += r.delimiter_.size();
                    done_ = true;
                    return std::size_t{0};
                }
                std::size_t n = std::min(hit, out.size());
                std::memcpy(out.data(), avail.data(), n);
                r.pos_ += n;
                return n;
            }
            // Bytes that cannot be the start of the delimiter are file content.
            std::size_t safe = avail.size() >= r.delimiter_.size() ? avail.size() - r.delimiter_.size() + 1 : 0;
            if (safe > 0) {
                std::size_t n = std::min(safe, out.size());
                std::memcpy(out.data(), avail.data(), n);
                r.pos_ += n;
                return n;
            }
            if (r.eof_) {
                return make_error(ErrorCode::CorruptInput, "form data ended inside the file",
                                  "The body of your POST request ended before the file's closing "
                                  "boundary.");
            }
            auto filled = r.fill();
            if (!filled) {
                return filled;
            }
        }
    }

private:
    FormDataReader& reader_;
    bool done_ = false;
};

FormDataReader::FormDataReader(ByteSource& body, std::string boundary, Limits limits)
    : body_(body), delimiter_("\r\n--" + boundary), limits_(limits) {}

FormDataReader::~FormDataReader() = default;

Result<std::size_t> FormDataReader::fill() {
    if (pos_ > 0 && (pos_ > buffer_.size() / 2 || pos_ == buffer_.size())) {
        buffer_.erase(0, pos_);
        pos_ = 0;
    }
    std::size_t old = buffer_.size();
    buffer_.resize(old + kReadChunk);
    auto n = body_.read(std::span<char>(buffer_.data() + old, kReadChunk));
    if (!n) {
        buffer_.resize(old);
        return n;
    }
    buffer_.resize(old + *n);
    if (*n == 0) {
        eof_ = true;
    }
    return n;
}

Result<std::string> FormDataReader::read_header_block() {
    while (true) {
        std::string_view avail(buffer_.data() + pos_, buffer_.size() - pos_);
        auto end = avail.find("\r\n\r\n");
        if (end != std::string_view::npos) {
            std::string block(avail.substr(0, end));
            pos_ += end + 4;
            return block;
        }
        if (avail.size() > kMaxHeaderBlock) {
            return malformed("a part's headers are too long");
        }
        if (eof_) {
            return malformed("the body ended inside a part's headers");
        }
        if (auto n = fill(); !n) {
            return n.error();
        }
    }
}

Result<void> FormDataReader::read_until_delimiter(std::string& out, std::size_t limit) {
    while (true) {
        std::string_view avail(buffer_.data() + pos_, buffer_.size() - pos_);
        auto hit = avail.find(delimiter_);
        if (hit != std::string_view::npos) {
            if (out.size() + hit > limit) {
                return malformed("a form field is larger than " + std::to_string(limit) + " bytes");
            }
            out.append(avail.substr(0, hit));
            pos_ += hit + delimiter_.size();
            return {};
        }
        if (avail.size() > limit + delimiter_.size()) {
            return malformed("a form field is larger than " + std::to_string(limit) + " bytes");
        }
        if (eof_) {
            return malformed("the body ended inside a form field");
        }
        if (auto n = fill(); !n) {
            return n.error();
        }
    }
}

Result<void> FormDataReader::read_fields() {
    // The body starts with "--boundary"; treat it as if preceded by CRLF so every delimiter looks
    // the same.
    buffer_ = "\r\n";
    std::string preamble;
    if (auto r = read_until_delimiter(preamble, 1024); !r) {
        return r;
    }
    std::size_t total = 0;
    for (std::size_t part = 0; part < limits_.max_parts; ++part) {
        // After a delimiter: "--" ends the body, CRLF starts a part.
        while (buffer_.size() - pos_ < 2 && !eof_) {
            if (auto n = fill(); !n) {
                return n.error();
            }
        }
        std::string_view after(buffer_.data() + pos_, buffer_.size() - pos_);
        if (after.starts_with("--")) {
            return make_error(ErrorCode::NotFound, "form data without a file field",
                              "POST requires exactly one file upload per request.");
        }
        if (!after.starts_with("\r\n")) {
            return malformed("a boundary is not followed by CRLF");
        }
        pos_ += 2;
        auto headers = read_header_block();
        if (!headers) {
            return headers.error();
        }
        std::optional<std::string> name;
        std::optional<std::string> filename;
        std::string content_type;
        std::size_t start = 0;
        while (start < headers->size()) {
            auto end = headers->find("\r\n", start);
            std::string_view line = std::string_view(*headers).substr(
                start, end == std::string::npos ? std::string::npos : end - start);
            auto colon = line.find(':');
            if (colon != std::string_view::npos) {
                std::string header_name = ascii_lowercase(line.substr(0, colon));
                std::string_view value = line.substr(colon + 1);
                while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
                if (header_name == "content-disposition") {
                    name = disposition_param(value, "name");
                    filename = disposition_param(value, "filename");
                } else if (header_name == "content-type") {
                    content_type = std::string(value);
                }
            }
            if (end == std::string::npos) break;
            start = end + 2;
        }
        if (!name) {
            return malformed("a part has no Content-Disposition name");
        }
        if (ascii_lowercase(*name) == "file") {
            file_name_ = filename.value_or("");
            file_content_type_ = content_type;
            file_ = std::make_unique<FileSource>(*this);
            return {};
        }
        std::string value;
        if (auto r = read_until_delimiter(value, limits_.max_field_bytes); !r) {
            return r;
        }
        total += name->size() + value.size();
        if (total > limits_.max_total_field_bytes) {
            return malformed("the form fields are larger than " +
                             std::to_string(limits_.max_total_field_bytes) + " bytes");
        }
        fields_.emplace_back(std::move(*name), std::move(value));
    }
    return malformed("too many parts");
}

ByteSource& FormDataReader::file() { return *file_; }

}  // namespace pf::s3api
