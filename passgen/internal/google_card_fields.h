#pragma once
// The checks of a card's fields as a Google object shows them, shared by ValidateCard and the
// cards CSV reader. Private to passgen. Pure functions: thread-safe.
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::passgen::internal {

// Why `value` cannot be a name or school text (UTF-8, no control characters, 1-200 characters,
// not only spaces), or "" when it can.
std::string TextProblem(std::string_view value);
// TextProblem as kInvalidArgument "<field>: <problem>".
Result<> ValidText(std::string_view field, std::string_view value);

}  // namespace lk::passgen::internal
