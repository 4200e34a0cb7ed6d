#include "imaging/vips_runtime.h"

#include "imaging/logger.h"

#include <vips/vips8>
// vips_vector_set_enabled: vips8 does not include it in 8.14, and it needs vips8 first.
#include <vips/vector.h>

#include <mutex>

namespace pf::imaging {
namespace {

void route_glib_log(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
    // libvips reports recoverable oddities (e.g. "ignoring nclx profile", corrupt-but-decodable
    // JPEG data) as warnings. They explain a later failure, so keep them, but at debug level:
    // a failure itself is reported once, where it is handled.
    if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0) {
        log().error("{}: {}", domain ? domain : "glib", message);
    } else {
        log().debug("{}: {}", domain ? domain : "glib", message);
    }
}

void* block_if_untrusted(GType type, void*) {
    auto* klass = static_cast<VipsOperationClass*>(g_type_class_ref(type));
    if (klass != nullptr && (klass->flags & VIPS_OPERATION_UNTRUSTED) != 0) {
        vips_operation_block_set(g_type_name(type), TRUE);
    }
    g_type_class_unref(klass);
    return nullptr;
}

}  // namespace

Result<void> start_vips(const VipsSettings& settings) {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] {
        if (VIPS_INIT("photoflux") != 0) {
            return;
        }
        // A server sees each photo once: the operation cache would only hold memory.
        vips_cache_set_max(0);
        vips_cache_set_max_mem(0);
        vips_cache_set_max_files(0);
        // No run-time generated SIMD (liborc): building reduce/convolution operations compiles
        // orc programs, and two pipelines built at once on different threads crashed in
        // orc_code_allocate_codemem (`photoflux process --jobs 2`, about one run in 40, a known
        // liborc race). libvips' own C++ paths are used instead; shrink-on-load leaves them
        // little to do, and 50 runs of that crash loop had no crash with vectors off.
        vips_vector_set_enabled(FALSE);
        // Loaders libvips itself marks untrusted (not fuzzed, e.g. JPEG XL in 8.14) are refused
        // outright; decode.cc also allows only the photo formats by name. Savers stay usable:
        // they only ever see pixels we decoded ourselves.
        vips_type_map_all(g_type_from_name("VipsForeignLoad"), block_if_untrusted, nullptr);
        g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK), route_glib_log,
                          nullptr);
        g_log_set_handler("GLib-GObject", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK),
                          route_glib_log, nullptr);
        ok = true;
    });
    if (!ok) {
        return make_error(ErrorCode::Internal,
                          std::string("cannot start libvips: ") + vips_error_buffer());
    }
    vips_concurrency_set(settings.threads_per_photo > 0 ? settings.threads_per_photo : 1);
    return {};
}

bool vips_has_operation(const std::string& nickname) {
    return vips_type_find("VipsOperation", nickname.c_str()) != 0;
}

std::string libvips_version() { return vips_version_string(); }

}  // namespace pf::imaging
