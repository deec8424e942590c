#pragma once
// Pass templates: the design of one card year as data (template.json, images, pass.strings per
// language), loaded and validated once, then rendered for each card by passgen/.
// Thread safety: a loaded Template is immutable and safe to share between threads.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/base.h"

namespace lk::templates {

// The per-card values a template may use as placeholders: {name} {school} {year} {serial}
// {valid_from} {valid_until} ({valid_*} are W3C timestamps in Brussels time). "{{" and "}}"
// stand for literal braces.
struct CardValues {
  std::string name, school, serial;
  int year = 0;
  std::string valid_from, valid_until;
};

// One file shipped unchanged in every pass (an image), with its SHA-1 computed at load time.
struct StaticFile {
  std::string path;  // path inside the .pkpass, e.g. "icon@2x.png"
  std::string bytes;
  std::string sha1_hex;
};

class Template {
 public:
  // Loads and validates the template in `dir` (see docs/passgen.md for the format). Every error
  // is kInvalidArgument and names the file and the field or key at fault.
  static Result<std::unique_ptr<Template>> Load(const std::filesystem::path& dir);
  // The template that serves card `year` under `root`: `root`/<year> when that exists (loaded as
  // Load does), else the newest earlier `root`/<y> (at most kMaxFollowingYears back) if its
  // template.json declares "followingYears": true; that one is loaded with year() == `year`, so
  // passes built from it carry `year`'s dates. kNotFound (naming the directory, and the earlier
  // template that does not declare it) when none serves the year.
  static Result<std::unique_ptr<Template>> LoadFor(const std::filesystem::path& root, int year);
  static constexpr int kMaxFollowingYears = 20;
  ~Template();

  int year() const;      // the card year it serves
  int own_year() const;  // the year its template.json names (earlier than year() when it continues)
  const std::string& style() const;                   // "storeCard" or "generic"
  const std::vector<std::string>& languages() const;  // e.g. {"nl","fr","en"}; first is the default
  bool has_language(std::string_view lang) const;
  const std::vector<StaticFile>& static_files() const;  // images, sorted by path
  const std::filesystem::path& dir() const;

  // The template's pass.json members rendered for one card with `lang` as the fallback
  // language: "@key" strings become that language's text and placeholders are filled. Each
  // <l>.lproj/pass.strings maps those texts to language l, so Wallet shows the phone's language
  // and falls back to `lang`. The generator adds the members it owns (identifiers, barcodes...).
  // Rendering is a few appends: the template is compiled per language at load time.
  struct Rendered {
    // The members as pretty JSON (nlohmann dump(2) layout) at indent 1, one per line, without
    // the braces and without a final comma or newline: `  "organizationName": "...",\n  ...`.
    std::string members_json;
    std::string barcode_alt_text_json;  // JSON-escaped, no quotes; empty when the template sets none
    std::vector<std::pair<std::string, std::string>> strings;  // "fr.lproj/pass.strings" -> content
  };
  // kInvalidArgument if `lang` is not a template language or a card value is not valid UTF-8.
  Result<Rendered> Render(const CardValues& card, std::string_view lang) const;

  struct Impl;

 private:
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Fills placeholders in `text`; `where` names the file and field for the error on an unknown
// placeholder or a stray brace. Exposed for tests.
Result<std::string> FillPlaceholders(std::string_view text, const CardValues& card, const std::string& where);

// Parses an Apple .strings file ("key" = "value"; lines, /* */ and // comments, \" \\ \n \t
// \uXXXX escapes). Errors name `where` and the line.
Result<std::map<std::string, std::string>> ParseStrings(std::string_view text, const std::string& where);
// Writes a .strings file (UTF-8) from key/value pairs.
std::string FormatStrings(const std::vector<std::pair<std::string, std::string>>& entries);

}  // namespace lk::templates
