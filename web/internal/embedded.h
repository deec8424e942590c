#pragma once
// The files of web/pages, web/strings and web/static, embedded at build time by embed.cmake.
#include <span>
#include <string_view>

namespace lk::web::internal {

struct EmbeddedFile {
  std::string_view name;  // relative to web/, e.g. "pages/card.html"
  std::string_view data;
};
std::span<const EmbeddedFile> EmbeddedFiles();

}  // namespace lk::web::internal
