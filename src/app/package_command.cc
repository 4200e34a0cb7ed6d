#include "app/package_command.h"

#include "app/command_support.h"
#include "app/elf_file.h"
#include "app/lambda_bundle.h"
#include "app/zip_writer.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

namespace pf::app {
namespace {

namespace fs = std::filesystem;

// "41.2 MB" in the MiB-based megabytes AWS quotes its limits in (250 MB = 262,144,000 bytes).
std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

int fail(const std::string& message) {
    std::cerr << "photoflux package lambda: " << message << "\n";
    return 1;
}

}  // namespace

CLI::App* add_package_command(CLI::App& app, PackageOptions& options) {
    CLI::App* package = app.add_subcommand("package", "Build deployment packages");
    package->require_subcommand(1);
    options.lambda = package->add_subcommand(
        "lambda", "Build the AWS Lambda deployment package (provided.al2023 custom runtime)");
    options.lambda->add_option("--out", options.out,
                               "Package to write (default: photoflux-lambda.zip)");
    options.lambda->add_option("--binary", options.binary,
                               "photoflux binary to package (default: this one)");
    options.lambda->add_option("--bootstrap", options.bootstrap,
                               "Static launcher to ship as bootstrap (default: "
                               "photoflux-bootstrap beside the binary)");
    return package;
}

int run_package(const PackageOptions& options) {
    LambdaBundleInputs inputs;
    std::error_code ec;
    inputs.binary = options.binary.empty() ? fs::path(own_executable()) : fs::path(options.binary);
    if (!inputs.binary.is_absolute()) {
        return fail("cannot tell where this binary is; pass --binary");
    }
    inputs.bootstrap = options.bootstrap.empty()
                           ? inputs.binary.parent_path() / "photoflux-bootstrap"
                           : fs::path(options.bootstrap);
    auto bundle = plan_lambda_bundle(inputs);
    if (!bundle) {
        return fail(bundle.error().message);
    }

    // The binary without its debug sections is built first: the unzipped size is then known,
    // and the 250 MB limit refuses the package before anything is written.
    std::uint64_t unzipped = 0;
    std::map<std::string, std::string> stripped;  // by name in the package
    for (const auto& f : bundle->files) {
        if (f.strip_debug) {
            auto bytes = copy_without_debug_sections(f.source);
            if (!bytes) {
                return fail(bytes.error().message);
            }
            unzipped += bytes->size();
            stripped[f.name] = std::move(*bytes);
        } else if (f.source.empty()) {
            unzipped += f.content.size();
        } else {
            unzipped += fs::file_size(f.source, ec);
            if (ec) {
                return fail("cannot read " + f.source.string() + ": " + ec.message());
            }
        }
    }
    if (unzipped > kLambdaMaxUnzippedBytes) {
        return fail("refused: the package would be " + megabytes(unzipped) + " (" +
                    std::to_string(unzipped) + " bytes) unzipped, over Lambda's limit of " +
                    megabytes(kLambdaMaxUnzippedBytes) + " (layers included); nothing written");
    }

    const fs::path out = options.out;
    auto writer = ZipWriter::create(out);
    if (!writer) {
        return fail(writer.error().message);
    }
    for (const auto& f : bundle->files) {
        Result<void> added = f.strip_debug      ? writer->add_bytes(f.name, stripped[f.name], f.mode)
                             : f.source.empty() ? writer->add_bytes(f.name, f.content, f.mode)
                                                : writer->add_file(f.name, f.source, f.mode);
        if (!added) {
            return fail(added.error().message);
        }
    }
    auto totals = writer->finish();
    if (!totals) {
        return fail(totals.error().message);
    }

    for (const auto& note : bundle->notes) {
        std::cerr << "photoflux package lambda: note: " << note << "\n";
    }
    std::cout << "Lambda package: " << out.string() << "\n"
              << "  files:    " << totals->entries << "\n"
              << "  zipped:   " << megabytes(totals->archive_bytes) << " ("
              << totals->archive_bytes << " bytes)\n"
              << "  unzipped: " << megabytes(totals->uncompressed_bytes) << " ("
              << totals->uncompressed_bytes << " bytes) of Lambda's "
              << megabytes(kLambdaMaxUnzippedBytes) << "\n";
    if (totals->archive_bytes > kLambdaMaxDirectUploadBytes) {
        std::cerr << "photoflux package lambda: warning: " << megabytes(totals->archive_bytes)
                  << " zipped is over the " << megabytes(kLambdaMaxDirectUploadBytes)
                  << " direct-upload limit: upload the package to S3 and deploy it from there "
                     "(fine up to "
                  << megabytes(kLambdaMaxUnzippedBytes) << " unzipped)\n";
    }
    return 0;
}

}  // namespace pf::app
