#include "imaging/output_steps.h"

#include <glib.h>

namespace pf::imaging {
namespace {

VipsForeignSubsample subsample(ChromaSubsampling c) {
    switch (c) {
    case ChromaSubsampling::Auto: return VIPS_FOREIGN_SUBSAMPLE_AUTO;
    case ChromaSubsampling::Subsample420: return VIPS_FOREIGN_SUBSAMPLE_ON;
    case ChromaSubsampling::Full444: return VIPS_FOREIGN_SUBSAMPLE_OFF;
    }
    return VIPS_FOREIGN_SUBSAMPLE_AUTO;
}

std::uint32_t read_le32(const std::string& b, std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}

void write_le32(std::string& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
}

}  // namespace

std::string remove_webp_chunks(const std::string& webp, bool icc, bool exif, bool xmp) {
    // RIFF "WEBP" container: a VP8X header chunk (flags: 0x20 ICC, 0x08 EXIF, 0x04 XMP) followed
    // by chunks of FourCC + little-endian size + payload padded to even length.
    if (webp.size() < 30 || webp.compare(0, 4, "RIFF") != 0 || webp.compare(8, 4, "WEBP") != 0 ||
        webp.compare(12, 4, "VP8X") != 0) {
        return webp;  // a simple (lossy/lossless) WebP carries no metadata
    }
    std::string out = webp.substr(0, 12);
    std::size_t at = 12;
    while (at + 8 <= webp.size()) {
        std::string fourcc = webp.substr(at, 4);
        std::size_t size = read_le32(webp, at + 4);
        std::size_t total = 8 + size + (size & 1);
        if (at + total > webp.size()) {
            return webp;  // not what libvips writes; leave it alone rather than damage it
        }
        bool drop = (icc && fourcc == "ICCP") || (exif && fourcc == "EXIF") ||
                    (xmp && fourcc == "XMP ");
        if (!drop) {
            out.append(webp, at, total);
        }
        at += total;
    }
    unsigned char flags = static_cast<unsigned char>(out[20]);
    flags &= static_cast<unsigned char>(~((icc ? 0x20 : 0) | (exif ? 0x08 : 0) | (xmp ? 0x04 : 0)));
    out[20] = static_cast<char>(flags);
    write_le32(out, 4, static_cast<std::uint32_t>(out.size() - 8));
    return out;
}

std::string encode(const vips::VImage& image, const Encoding& e, bool strip) {
    vips::VOption* options = vips::VImage::option()->set("strip", strip);
    const char* suffix = ".jpg";
    switch (e.format) {
    case Format::Jpeg:
        suffix = ".jpg";
        options->set("Q", e.quality)
            ->set("interlace", e.progressive)
            ->set("optimize_coding", true)
            ->set("subsample_mode", subsample(e.chroma));
        break;
    case Format::Png:
        suffix = ".png";
        options->set("compression", e.effort.value_or(6))->set("interlace", e.progressive);
        break;
    case Format::Webp:
        suffix = ".webp";
        options->set("Q", e.quality)
            ->set("lossless", e.lossless)
            ->set("effort", e.effort.value_or(4));
        break;
    case Format::Avif:
        suffix = ".avif";
        options->set("Q", e.quality)
            ->set("lossless", e.lossless)
            ->set("effort", e.effort.value_or(4))
            ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
            ->set("subsample_mode", subsample(e.chroma));
        break;
    case Format::Gif:
        suffix = ".gif";
        options->set("effort", e.effort.value_or(7))->set("interlace", e.progressive);
        break;
    case Format::Jxl:
        suffix = ".jxl";
        options->set("Q", e.quality)
            ->set("lossless", e.lossless)
            ->set("effort", e.effort.value_or(7));
        break;
    }
    void* buffer = nullptr;
    size_t length = 0;
    image.write_to_buffer(suffix, &buffer, &length, options);
    std::string bytes(static_cast<const char*>(buffer), length);
    g_free(buffer);
    return bytes;
}

}  // namespace pf::imaging
