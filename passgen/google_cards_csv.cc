// The cards CSV of `google sync --cards`, read with the project's one CSV parser (base/csv.h).
#include <algorithm>
#include <unordered_map>

#include "base/csv.h"
#include "passgen/google_wallet.h"
#include "passgen/internal/google_card_fields.h"

namespace lk::passgen {

namespace {

constexpr const char* kColumns[] = {"serial", "year", "name", "school", "status"};
constexpr const char* kExpected = "serial,year,name,school,status";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::vector<Card>> ReadCardsCsv(std::string_view bytes, const std::string& file, int year) {
  std::vector<CsvProblem> problems;
  CsvTable t = ParseCsv(bytes, problems);
  if (t.header.empty())
    return Fail(Code::kInvalidArgument, file + ":1: empty file: a header row " + kExpected +
                                            " is required; nothing was sent to Google");
  int col[5];
  std::string missing;
  for (size_t i = 0; i < 5; ++i) {
    col[i] = ColumnIndex(t, kColumns[i]);
    if (col[i] < 0) missing += (missing.empty() ? "'" : ", '") + std::string(kColumns[i]) + "'";
  }
  if (!missing.empty())
    return Fail(Code::kInvalidArgument, file + ":1: the header lacks column " + missing + " (expected " +
                                            kExpected + "); nothing was sent to Google");

  std::vector<Card> cards;
  cards.reserve(t.records.size());
  std::unordered_map<std::string, int> first_line;  // serial -> line
  for (const CsvRecord& rec : t.records) {
    if (rec.fields.size() != t.header.size()) {
      problems.push_back({rec.line, 0,
                          "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                              std::to_string(t.header.size())});
      continue;
    }
    auto field = [&](size_t i) { return std::string(Trim(rec.fields[size_t(col[i])])); };
    auto bad = [&](size_t i, std::string what) {
      problems.push_back({rec.line, col[i] + 1, std::move(what)});
    };
    const size_t before = problems.size();
    Card card;
    card.serial = field(0);
    if (card.serial.empty())
      bad(0, "empty serial");
    else if (!ValidSerial(card.serial))
      bad(0, "'" + card.serial + "' is not a card serial: 1-40 letters, digits, '-' or '_'");
    const std::string y = field(1);
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos)
      bad(1, "'" + y + "' is not a card year (four digits, such as " + std::to_string(year) + ")");
    else if (std::stoi(y) != year)
      bad(1, "card year " + y + ", but --year is " + std::to_string(year) +
                 ": sync each card year with its own file and --year");
    card.year = year;
    card.holder_name = field(2);
    if (auto p = internal::TextProblem(card.holder_name); !p.empty()) bad(2, p);
    card.school = field(3);
    if (auto p = internal::TextProblem(card.school); !p.empty()) bad(3, p);
    const std::string status = Lower(field(4));
    if (status == "revoked")
      card.revoked = true;
    else if (status != "active")
      bad(4, "'" + field(4) + "' is not a status: write active or revoked");
    if (!card.serial.empty()) {
      auto [it, fresh] = first_line.emplace(card.serial, rec.line);
      if (!fresh) bad(0, "serial " + card.serial + " is already on line " + std::to_string(it->second));
    }
    if (problems.size() == before) cards.push_back(std::move(card));
  }
  if (problems.empty()) return cards;

  std::stable_sort(problems.begin(), problems.end(), [](auto& a, auto& b) { return a.line < b.line; });
  std::string msg = file + ": " + std::to_string(problems.size()) + " bad row" +
                    (problems.size() == 1 ? "" : "s") +
                    "; nothing was sent to Google (correct the file and run google sync again)";
  for (const CsvProblem& p : problems) {
    msg += "\n  " + file + ":" + std::to_string(p.line);
    if (p.column > 0) {
      msg += ":" + std::to_string(p.column);
      if (p.column <= static_cast<int>(t.header.size())) msg += " (" + t.header[size_t(p.column - 1)] + ")";
    }
    msg += ": " + p.what;
  }
  return Fail(Code::kInvalidArgument, msg);
}

}  // namespace lk::passgen
