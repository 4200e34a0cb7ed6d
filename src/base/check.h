// Invariants. PF_CHECK always runs and aborts with the condition and location; PF_ASSERT only in
// debug builds. Never use either on request data, file contents or network results: those get
// an Error, not an abort.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PF_CHECK(cond)                                                                            \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            std::fprintf(stderr, "PF_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__);    \
            std::abort();                                                                         \
        }                                                                                         \
    } while (false)

#ifdef NDEBUG
#define PF_ASSERT(cond)                                                                           \
    do {                                                                                          \
    } while (false)
#else
#define PF_ASSERT(cond) PF_CHECK(cond)
#endif
