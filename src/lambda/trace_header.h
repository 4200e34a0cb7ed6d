// X-Ray trace headers as the function host reads and writes them, for the recursion guard:
//   Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1f2e3d4c:3
// Lineage is "<first 8 hex of SHA-256 of the function ARN>:<count>": how many invocations of the
// chain happened before. invoke_async reads the count of the trace it is given (0 when absent)
// and hands the function a trace whose count is one more, so a function whose output triggers
// itself carries a growing count until the host stops the chain.
//
// Trace text is untrusted (it arrives in request headers): anything longer than
// kMaxTraceHeaderBytes or with bytes outside printable ASCII counts as "no trace".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pf::lambda {

inline constexpr std::size_t kMaxTraceHeaderBytes = 1024;

// Whether `trace` is usable at all (non-empty, bounded, printable ASCII).
bool trace_header_usable(std::string_view trace);

// The Lineage count of `trace`; 0 when there is no (well-formed) Lineage field. A count too large
// to represent saturates at UINT32_MAX (it is far above any depth limit either way).
std::uint32_t lineage_count(std::string_view trace);

// The Root field's value ("1-5759e988-..."), or empty.
std::string trace_root(std::string_view trace);

// The trace to hand to `function_arn`: the fields of `trace` (Root, Parent, Sampled, anything
// else) with Lineage set to "<hash>:<count + 1>". An unusable trace, or one without Root, is
// replaced by a fresh one (new Root and Parent, Sampled=0). `now_unix_seconds` goes into a fresh
// Root, as X-Ray does.
std::string child_trace(std::string_view trace, std::string_view function_arn,
                        std::int64_t now_unix_seconds);

// First 8 hex digits of SHA-256 of the ARN.
std::string lineage_hash(std::string_view function_arn);

}  // namespace pf::lambda
