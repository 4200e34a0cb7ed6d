#include "imaging/manifest.h"

#include "imaging/analysis/perceptual_hash.h"

#include <cmath>

namespace pf::imaging {
namespace {

double round_to(double value, int digits) {
    double f = std::pow(10.0, digits);
    return std::round(value * f) / f;
}

nlohmann::json exif_json(const ExifSummary& e) {
    nlohmann::json j = nlohmann::json::object();
    auto put = [&](const char* key, const auto& opt) {
        if (opt) {
            j[key] = *opt;
        }
    };
    put("make", e.make);
    put("model", e.model);
    put("lens_make", e.lens_make);
    put("lens", e.lens_model);
    put("software", e.software);
    put("artist", e.artist);
    put("copyright", e.copyright);
    put("date_taken", e.date_taken);
    put("exposure_time", e.exposure_time_text);
    if (e.exposure_time_s) {
        j["exposure_time_s"] = round_to(*e.exposure_time_s, 6);
    }
    if (e.f_number) {
        j["f_number"] = round_to(*e.f_number, 2);
    }
    put("iso", e.iso);
    if (e.focal_length_mm) {
        j["focal_length_mm"] = round_to(*e.focal_length_mm, 2);
    }
    put("focal_length_35mm", e.focal_length_35mm);
    if (e.gps) {
        // Flagged private: consumers must not publish it without the owner's consent. The
        // derivatives never carry it unless a recipe says keep_gps.
        nlohmann::json gps = {{"latitude", round_to(e.gps->latitude, 7)},
                              {"longitude", round_to(e.gps->longitude, 7)},
                              {"private", true}};
        if (e.gps->altitude_m) {
            gps["altitude_m"] = round_to(*e.gps->altitude_m, 2);
        }
        j["gps"] = gps;
    }
    return j;
}

}  // namespace

nlohmann::json to_json(const Manifest& m) {
    nlohmann::json source = {
        {"name", m.source.name},
        {"format", m.source.format},
        {"width", m.source.width},
        {"height", m.source.height},
        {"bytes", m.source.bytes},
        {"orientation", m.source.orientation},
        {"has_alpha", m.source.has_alpha},
        {"progressive", m.source.progressive},
        {"frames", m.source.frames},
        {"colour_space", m.source.colour_space},
    };
    source["icc_profile"] = m.source.icc_profile ? nlohmann::json(*m.source.icc_profile)
                                                 : nlohmann::json(nullptr);
    nlohmann::json outputs = nlohmann::json::array();
    for (const auto& o : m.outputs) {
        outputs.push_back({{"name", o.name},
                           {"file", o.file},
                           {"format", to_string(o.format)},
                           {"content_type", content_type(o.format)},
                           {"width", o.width},
                           {"height", o.height},
                           {"bytes", o.bytes},
                           {"millis", round_to(o.millis, 2)}});
    }
    return {
        {"manifest_version", 1},
        {"source", source},
        {"exif", m.exif ? exif_json(*m.exif) : nlohmann::json(nullptr)},
        {"dominant_colour", m.dominant_colour},
        {"placeholder",
         {{"type", "blurhash"}, {"value", m.blurhash}, {"components", {m.blurhash_x, m.blurhash_y}}}},
        {"perceptual_hash", {{"algorithm", "dct-64"}, {"value", perceptual_hash_hex(m.perceptual_hash)}}},
        {"outputs", outputs},
        {"millis", round_to(m.millis, 2)},
        {"engine", {{"libvips", m.libvips_version}}},
    };
}

}  // namespace pf::imaging
