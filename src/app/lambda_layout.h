// Where things live inside the Lambda deployment package, shared by `photoflux package lambda`
// (which writes them) and the static `bootstrap` launcher (which reads them at start). Constants
// only: the launcher links nothing of the project.
//
//   bootstrap                       static launcher Lambda starts (lambda_bootstrap.cc)
//   bin/photoflux                   the binary, debug sections dropped
//   lib/<SONAME>                    every shared library it needs, and the dynamic loader
//   vips/<libdir>/vips-modules-X.Y/ libvips' loadable format modules (VIPSHOME = <root>/vips)
//   etc/fonts/fonts.conf            fontconfig: only the bundled fonts, cache in /tmp
//   share/fonts/dejavu/*.ttf        the default watermark font family
#pragma once

namespace pf::app::lambda_layout {

inline constexpr char kBootstrap[] = "bootstrap";
inline constexpr char kBinary[] = "bin/photoflux";
inline constexpr char kLibDir[] = "lib";
#if defined(__aarch64__)
inline constexpr char kLoaderName[] = "ld-linux-aarch64.so.1";
#else
inline constexpr char kLoaderName[] = "ld-linux-x86-64.so.2";
#endif
// libvips 8.14 loads its modules from $VIPSHOME/<last part of its build-time libdir>/
// vips-modules-X.Y ("x86_64-linux-gnu" on Debian), so the package keeps that part of the path.
inline constexpr char kVipsHome[] = "vips";
inline constexpr char kFontsConf[] = "etc/fonts/fonts.conf";
inline constexpr char kFontsDir[] = "share/fonts/dejavu";
// glib looks for GIO modules here instead of the host's folder; the package ships none.
inline constexpr char kGioModuleDir[] = "lib/gio/modules";
// fontconfig's cache: the package root is read-only on Lambda, /tmp is the writable place.
inline constexpr char kFontCacheDir[] = "/tmp/photoflux-fontconfig";

}  // namespace pf::app::lambda_layout
