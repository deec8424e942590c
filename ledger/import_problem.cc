// Import problems as data and their English (import_problem.h). The templates are the CLI's
// sentences: an error message is the file, the place and the filled template, byte for byte.
#include "ledger/import_problem.h"

#include <array>

namespace lk::ledger {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

// Every problem by key. Placeholders: {value} the cell as written (a mail address cut at 80
// characters and "..."), {line} an earlier line, {year} the card year, and as named.
constexpr std::array kProblems = {
    // The file as a whole.
    Entry{"empty_file", "empty file: a header row is required"},
    Entry{"missing_columns", "the header lacks column {missing} (expected {expected})"},
    Entry{
        "language_without_email",
        "the header has a 'language' column but no 'email' column; the language is the claim mail's, so add "
        "the addresses"},
    Entry{"no_data_rows", "no data rows"},
    Entry{"no_roster",
          "there is no roster for card year {year}; import it first (lerarenkaart import roster FILE --year "
          "{year})"},
    // A record the CSV reader cannot read (base/csv.h).
    Entry{"unclosed_quote", "quoted field is never closed"},
    Entry{"after_quote", "unexpected character after a closing quote"},
    Entry{"not_utf8", "not valid UTF-8"},
    Entry{"field_count", "has {fields} fields, the header has {header_fields}"},
    // Staff.
    Entry{"staff_id_empty", "empty staff identifier"},
    Entry{"staff_id_long", "staff identifier longer than 64 characters"},
    Entry{"duplicate_staff", "the same staff member is already on line {line}"},
    Entry{"not_on_roster", "this staff member is not on the roster of card year {year}"},
    Entry{"claim_not_on_roster", "not on the roster of card year {year} (import the roster first)"},
    Entry{"claim_name", "the name must have 1 to 100 bytes"},
    // The roster.
    Entry{"role", "'{value}' is not one of administrative|teaching|support"},
    Entry{"network", "'{value}' is not one of GO|OGO|VGO"},
    Entry{"level", "'{value}' is not one of basic|secondary|higher|adult|part_time_arts|other"},
    Entry{"school_number", "'{value}' is not a school number (1 to 12 digits)"},
    Entry{"postcode", "'{value}' is not a Belgian postcode (4 digits, 1000-9999)"},
    Entry{"starter", "'{value}' is not yes or no"},
    Entry{"email_long", "'{value}' is longer than 254 characters"},
    Entry{"email_characters",
          "'{value}' is not a mail address: only ASCII letters, digits and .!#$%&'*+-/=?^_`{|}~@, no spaces"},
    Entry{"email_at", "'{value}' is not a mail address: it needs exactly one @, as in name@school.be"},
    Entry{"email_local", "'{value}' is not a mail address: 1 to 64 characters before the @"},
    Entry{"email_domain",
          "'{value}' is not a mail address: the part after the @ must be a domain such as school.be"},
    Entry{"language", "'{value}' is not one of nl|fr|en (or empty for the default)"},
    Entry{"name_long", "first_name and last_name together have more than 100 bytes"},
    Entry{"name_control", "the name contains a control character"},
    Entry{"roster_differs", "differs from the roster of card year {year} already in the ledger"},
    // Channel files.
    Entry{"date", "'{value}' is not an ISO date (YYYY-MM-DD)"},
    Entry{"date_far", "{value} is more than a year away from card year {year}"},
    // Published figures.
    Entry{"published_label", "'{value}' is neither a year nor 'Totaal'"},
    Entry{"whole_number", "'{value}' is not a whole number"},
    Entry{"printed_share", "'{value}' is not a printed percentage like 67,50% or 67%"},
    Entry{"holders_over_eligible", "more holders than eligible staff"},
    Entry{"duplicate_label", "'{label}' is already on line {line}"},
    Entry{"published_differs", "differs from the published figures for '{label}' already in the ledger"},
    Entry{"published_conflict", "conflicts with figures already in the ledger"},
    // The school list.
    Entry{"school_name", "a school name is 1 to 200 bytes of UTF-8"},
    Entry{"municipality", "a municipality is 1 to 100 bytes of UTF-8"},
    Entry{"duplicate_school", "school {school} is already on line {line}"},
};

}  // namespace

std::span<const std::string_view> ImportProblemKeys() {
  static const auto kKeys = [] {
    std::array<std::string_view, kProblems.size()> keys{};
    for (size_t i = 0; i < kProblems.size(); ++i) keys[i] = kProblems[i].first;
    return keys;
  }();
  return kKeys;
}

std::string_view ImportProblemEnglish(std::string_view key) {
  for (const auto& [k, v] : kProblems)
    if (k == key) return v;
  return {};
}

std::string FillImportTemplate(std::string_view tmpl, const std::vector<ImportValue>& values) {
  std::string out;
  out.reserve(tmpl.size() + 32);
  for (size_t i = 0; i < tmpl.size();) {
    const size_t open = tmpl.find('{', i);
    const size_t close = open == std::string_view::npos ? open : tmpl.find('}', open);
    if (close == std::string_view::npos) {
      out += tmpl.substr(i);
      break;
    }
    out += tmpl.substr(i, open - i);
    const std::string_view name = tmpl.substr(open + 1, close - open - 1);
    const ImportValue* v = nullptr;
    for (const ImportValue& candidate : values)
      if (candidate.first == name) v = &candidate;
    if (v)
      out += v->second;
    else
      out += tmpl.substr(open, close - open + 1);
    i = close + 1;
  }
  return out;
}

}  // namespace lk::ledger
