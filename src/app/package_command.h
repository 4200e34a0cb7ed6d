// `photoflux package lambda [--out FILE] [--binary PATH] [--bootstrap PATH]`: builds the AWS
// Lambda deployment package (a .zip for the provided.al2023 runtime) of a photoflux binary, with
// every shared library, the dynamic loader, the libvips modules and the fonts it needs, so it
// runs on Lambda whatever the build host's glibc. The file list is lambda_bundle's job, the
// archive zip_writer's; this file checks Lambda's size limits and reports.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace pf::app {

// Lambda's limits (fact sheet 4.3): 250 MB unzipped, including layers, is a hard limit; 50 MB
// zipped is the most a direct upload takes (larger packages go through S3).
inline constexpr std::uint64_t kLambdaMaxUnzippedBytes = 250ull * 1024 * 1024;
inline constexpr std::uint64_t kLambdaMaxDirectUploadBytes = 50ull * 1024 * 1024;

struct PackageOptions {
    std::string out = "photoflux-lambda.zip";
    std::string binary;     // default: this executable
    std::string bootstrap;  // default: photoflux-bootstrap beside the binary
    CLI::App* lambda = nullptr;
};

CLI::App* add_package_command(CLI::App& app, PackageOptions& options);

// Exit code: 0 written (possibly with a warning); 1 refused (over a limit) or failed.
int run_package(const PackageOptions& options);

}  // namespace pf::app
