// The function host's dead letters as the console lists them (GET
// /_/console/api/function-dead-letters): the photo they were about is taken from the S3 event in
// the payload (first record; the key form-decoded as S3 events encode it), the error from the
// last attempt or the on-failure destination record.
#pragma once

#include "lambda/invocation_store.h"

#include <nlohmann/json.hpp>

namespace pf::console {

nlohmann::json dead_letter_json(const lambda::StoredDeadLetter& letter);

}  // namespace pf::console
