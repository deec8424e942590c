// Roster, channel and published imports (imports.h). Each runs in one write transaction that
// stages the parsed rows, checks them against the ledger, inserts, moves the aggregates and
// appends one audit entry.
#include "ledger/imports.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ledger/internal/aggregates.h"
#include "ledger/internal/core.h"
#include "ledger/internal/csv_import.h"

namespace lk::ledger {
using internal::CsvImport;

using internal::Db;
using internal::Row;
using internal::Transaction;
using internal::Value;
using namespace internal;

namespace {

// Why `e` is not a mail address the claim mail can use (a problem key, import_problem.h), or ""
// when it is one: ASCII, no spaces, one '@' between a local part of 1-64 characters and a domain
// with a dot, at most 254 in all.
std::string_view EmailProblem(std::string_view e) {
  if (e.size() > 254) return "email_long";
  for (char ch : e) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || std::string_view("<>()[]\\,;:\"").find(ch) != std::string_view::npos)
      return "email_characters";
  }
  const size_t at = e.find('@');
  if (at == std::string_view::npos || e.find('@', at + 1) != std::string_view::npos) return "email_at";
  std::string_view local = e.substr(0, at), domain = e.substr(at + 1);
  if (local.empty() || local.size() > 64) return "email_local";
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.front() == '-' || domain.find("..") != std::string_view::npos)
    return "email_domain";
  return "";
}

// A cell as a problem's {value}.
std::vector<ImportValue> Cell(std::string value) { return {{"value", std::move(value)}}; }

}  // namespace

Result<ImportSummary> Imports::ImportRoster(const CsvSource& csv, int year, const Progress& progress) {
  std::lock_guard lock(core_.mu);
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  std::vector<Row> stage;
  // The optional contact columns (0-based field index, -1 when absent), found on the first row.
  int email_col = -2, language_col = -2;
  auto find_contact_columns = [&](const CsvTable& t) {
    if (email_col != -2) return;
    email_col = ColumnIndex(t, "email");
    language_col = ColumnIndex(t, "language");
  };
  auto in = ReadCsvImport(
      csv,
      {"staff_id", "first_name", "last_name", "role", "network", "level", "school_number", "school_postcode",
       "starter"},
      progress, [&](CsvImport& f, const CsvRecord& rec) {
        bool bad = false;
        auto bad_field = [&](size_t i, std::string_view key, std::vector<ImportValue> values = {}) {
          f.Bad(rec, i, key, std::move(values));
          bad = true;
        };
        std::string staff = f.Field(rec, 0);
        if (staff.empty())
          bad_field(0, "staff_id_empty");
        else if (staff.size() > 64)
          bad_field(0, "staff_id_long");
        std::string role = Lower(f.Field(rec, 3)), network = f.Field(rec, 4), level = Lower(f.Field(rec, 5));
        if (role != "administrative" && role != "teaching" && role != "support")
          bad_field(3, "role", Cell(f.Field(rec, 3)));
        std::string net_upper = network;
        std::transform(net_upper.begin(), net_upper.end(), net_upper.begin(), ::toupper);
        if (net_upper != "GO" && net_upper != "OGO" && net_upper != "VGO")
          bad_field(4, "network", Cell(network));
        static const char* kLevels[] = {"basic", "secondary", "higher", "adult", "part_time_arts", "other"};
        if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return level == l; }))
          bad_field(5, "level", Cell(f.Field(rec, 5)));
        std::string school = f.Field(rec, 6);
        if (school.empty() || school.size() > 12 ||
            school.find_first_not_of("0123456789") != std::string::npos)
          bad_field(6, "school_number", Cell(school));
        std::string postcode = f.Field(rec, 7);
        std::string province;
        auto pc = ParseCount(postcode);
        auto prov = pc && postcode.size() == 4 ? ProvinceOfPostcode(static_cast<int>(*pc))
                                               : Result<std::string>(Fail(Code::kInvalidArgument, ""));
        if (!prov)
          bad_field(7, "postcode", Cell(postcode));
        else
          province = *prov;
        std::string starter = Lower(f.Field(rec, 8));
        if (starter != "yes" && starter != "no") bad_field(8, "starter", Cell(f.Field(rec, 8)));
        // Contacts for the claim mail: an address, the mail's language and the name it greets.
        find_contact_columns(f.table);
        std::string email, language, name;
        if (email_col >= 0) {
          email = std::string(Trim(rec.fields[static_cast<size_t>(email_col)]));
          if (auto why = EmailProblem(email); !email.empty() && !why.empty()) {
            f.problems->Add(rec.line, email_col + 1, why,
                            Cell(email.substr(0, 80) + (email.size() > 80 ? "..." : "")));
            bad = true;
          }
          if (language_col >= 0) {
            language = Lower(std::string(Trim(rec.fields[static_cast<size_t>(language_col)])));
            if (!language.empty() && language != "nl" && language != "fr" && language != "en") {
              f.problems->Add(rec.line, language_col + 1, "language",
                              Cell(std::string(Trim(rec.fields[static_cast<size_t>(language_col)]))));
              bad = true;
            }
          }
          const std::string first = f.Field(rec, 1), last = f.Field(rec, 2);
          name = first + (first.empty() || last.empty() ? "" : " ") + last;
          if (!email.empty() && name.size() > 100) bad_field(1, "name_long");
          if (!email.empty() && std::any_of(name.begin(), name.end(), [](char ch) {
                return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
              }))
            bad_field(1, "name_control");
        }
        if (bad) return;
        std::string key = (*keyer)->Key(staff);
        if (!f.FirstMention(rec, 0, key)) return;
        stage.push_back({std::to_string(rec.line), key, role, net_upper, level, school, postcode, province,
                         starter == "yes" ? "1" : "0"});
        if (email_col >= 0) {
          stage.back().push_back(email);
          stage.back().push_back(language.empty() ? std::nullopt : std::optional(language));
          stage.back().push_back(name.empty() ? std::nullopt : std::optional(name));
        }
      });
  if (!in) return std::unexpected(in.error());
  Problems& problems = *(*in)->problems;
  const auto& t = (*in)->table;
  const auto& c = (*in)->cols;
  const uint64_t total = t.records.size();
  find_contact_columns(t);
  if (language_col >= 0 && email_col < 0) return RefuseFile((*in)->file, 1, "language_without_email");
  if (!problems.empty()) return problems.ToError();
  const bool contacts = email_col >= 0;
  // A roster with contacts is staged in a table of its own: the temporary table of a plain
  // roster may already exist in this session without those columns.
  const std::string stage_table = contacts ? "stage_roster_contacts" : "stage_roster";

  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  {
    std::string ddl = "line BIGINT, staff_key " + core_.KeyType() +
                      ", role TEXT, network TEXT, level TEXT, school_number TEXT, "
                      "postcode INTEGER, province TEXT, starter INTEGER";
    std::vector<std::string> columns = {"line",          "staff_key", "role",     "network", "level",
                                        "school_number", "postcode",  "province", "starter"};
    if (contacts) {
      ddl += ", email TEXT, language TEXT, display_name TEXT";
      columns.insert(columns.end(), {"email", "language", "display_name"});
    }
    if (auto r = core_.Stage(stage_table, ddl, columns, stage); !r) return std::unexpected(r.error());
  }
  if (progress) progress(total * 3 / 4, total);
  // A person already on this year's roster with different attributes is a bad row: the
  // ledger never rewrites history silently.
  auto changed = core_.db->Query(
      "SELECT s.line, s.role <> r.role, s.network <> r.network, s.level <> r.level, s.school_number <> "
      "r.school_number, s.postcode <> r.postcode, s.starter <> r.starter FROM " +
          stage_table +
          " s CROSS JOIN "
          "roster r "
          "WHERE r.card_year = $1 AND r.staff_key = s.staff_key AND (s.role <> r.role OR s.network <> "
          "r.network "
          "OR "
          "s.level <> r.level OR s.school_number <> r.school_number OR s.postcode <> r.postcode OR s.starter "
          "<> "
          "r.starter) ORDER BY s.line",
      {int64_t{year}});
  if (!changed) return std::unexpected(changed.error());
  for (auto& row : *changed) {
    static const int kCols[] = {3, 4, 5, 6, 7, 8};
    for (size_t k = 0; k < 6; ++k) {
      const auto& v = row[k + 1];
      if (v && (*v == "1" || *v == "t" || *v == "true"))
        problems.Add(static_cast<int>(ToInt(row[0])), c[static_cast<size_t>(kCols[k])] + 1, "roster_differs",
                     {{"year", std::to_string(year)}});
    }
  }
  if (!problems.empty()) return problems.ToError();
  if (auto r = core_.db->Execute(
          "INSERT INTO card_years (year, created_at) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING",
          {int64_t{year}, Seconds(core_.clock.Now())});
      !r)
    return std::unexpected(r.error());
  auto added = core_.db->Execute(
      "INSERT INTO roster (card_year, staff_key, role, network, level, school_number, postcode, province, "
      "starter, "
      "audit_seq) SELECT $1, staff_key, role, network, level, school_number, postcode, province, starter, $2 "
      "FROM " +
          stage_table + " WHERE true ORDER BY staff_key ON CONFLICT (card_year, staff_key) DO NOTHING",
      {int64_t{year}, *seq});
  if (!added) return std::unexpected(added.error());
  if (auto r = core_.RefreshStatistics("roster", static_cast<uint64_t>(*added)); !r)
    return std::unexpected(r.error());
  if (auto r = CountNewRoster(core_, year, *seq); !r) return std::unexpected(r.error());
  // The file is the truth about its holders' contacts: an address sets (or changes) theirs, an
  // empty cell removes it. Only real changes count, so re-importing the same file changes nothing.
  int64_t contacts_changed = 0;
  if (contacts) {
    const std::string entries = " FROM " + stage_table +
                                " s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key";
    for (const std::string& sql :
         {"INSERT INTO holder_contacts (roster_id, email, language) SELECT r.id, s.email, s.language" +
              entries +
              " AND s.email <> '' ON CONFLICT (roster_id) DO UPDATE SET email = excluded.email, language = "
              "excluded.language WHERE holder_contacts.email <> excluded.email OR holder_contacts.language "
              "IS "
              "DISTINCT FROM excluded.language",
          "DELETE FROM holder_contacts WHERE roster_id IN (SELECT r.id" + entries + " AND s.email = '')",
          "INSERT INTO holder_names (roster_id, display_name) SELECT r.id, s.display_name" + entries +
              " AND s.email <> '' AND s.display_name IS NOT NULL ON CONFLICT (roster_id) DO UPDATE SET "
              "display_name = excluded.display_name WHERE holder_names.display_name <> "
              "excluded.display_name"}) {
      auto n = core_.db->Execute(sql, {int64_t{year}});
      if (!n) return std::unexpected(n.error());
      contacts_changed += *n;
    }
  }
  ImportSummary sum{t.records.size(), static_cast<uint64_t>(*added),
                    t.records.size() - static_cast<uint64_t>(*added)};
  auto detail = nlohmann::json::parse(ImportDetail(csv, year, "roster", sum));
  if (contacts) detail["contacts_changed"] = contacts_changed;
  if (auto r = core_.Finish(tx, *seq, "import roster", detail.dump(),
                            sum.added + static_cast<uint64_t>(contacts_changed));
      !r)
    return std::unexpected(r.error());
  if (progress) progress(total, total);
  return sum;
}

Result<ImportSummary> Imports::ImportChannel(Channel channel, const CsvSource& csv, int year,
                                             const Progress& progress) {
  std::lock_guard lock(core_.mu);
  if (channel == Channel::kDigital)
    return Fail(Code::kInvalidArgument, "digital cards are issued, not imported (use `ledger issue`)");
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  std::vector<Row> stage;
  std::vector<int> lines;  // of the staged rows
  auto in = ReadCsvImport(csv, {"staff_id", "date"}, progress, [&](CsvImport& f, const CsvRecord& rec) {
    std::string staff = f.Field(rec, 0), date_text = f.Field(rec, 1);
    bool bad = false;
    if (staff.empty()) f.Bad(rec, 0, "staff_id_empty"), bad = true;
    auto date = ParseIsoDate(date_text);
    if (!date) {
      f.Bad(rec, 1, "date", Cell(date_text));
      bad = true;
    } else if (int(date->year()) < year - 1 || int(date->year()) > year + 1) {
      f.Bad(rec, 1, "date_far", {{"value", date_text}, {"year", std::to_string(year)}});
      bad = true;
    }
    if (bad) return;
    // The same person twice is found below, once the rows are in staff-key order (a hash map
    // of every key, as FirstMention keeps, cost more than the sort).
    lines.push_back(rec.line);
    stage.push_back({std::to_string(rec.line), (*keyer)->Key(staff), FormatIsoDate(*date),
                     std::to_string(SchoolYearOf(*date)), ""});
  });
  if (!in) return std::unexpected(in.error());
  Problems& problems = *(*in)->problems;
  const auto& t = (*in)->table;
  const int staff_col = (*in)->cols[0];
  const uint64_t total = t.records.size();
  int first_sy = year + 1, last_sy = year - 2;  // school years of the new cards
  {
    const std::vector<size_t> order =
        OrderByKey(stage.size(), [&](size_t i) { return std::string_view(*stage[i][1]); });
    std::vector<Row> sorted;
    sorted.reserve(stage.size());
    int first_line = 0;       // of the staff member of the last row kept
    for (size_t i : order) {  // equal keys come together, the earliest line first
      if (!sorted.empty() && *sorted.back()[1] == *stage[i][1]) {
        problems.Add(lines[i], staff_col + 1, "duplicate_staff", {{"line", std::to_string(first_line)}});
        continue;
      }
      first_line = lines[i];
      sorted.push_back(std::move(stage[i]));
    }
    stage = std::move(sorted);
    std::vector<std::string> serials = SortedRandomSerials(stage.size());
    for (size_t i = 0; i < stage.size(); ++i) {
      stage[i][4] = std::move(serials[i]);
      const std::string& sy_text = *stage[i][3];
      int sy = 0;
      std::from_chars(sy_text.data(), sy_text.data() + sy_text.size(), sy);
      first_sy = std::min(first_sy, sy), last_sy = std::max(last_sy, sy);
    }
  }
  if (!problems.empty() && stage.empty()) return problems.ToError();

  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  if (auto r = core_.RequireRoster(year); !r) {
    if (r.error().code != Code::kFailedPrecondition) return std::unexpected(r.error());
    return RefuseFile(r.error(), (*in)->file, "no_roster", {{"year", std::to_string(year)}});
  }
  if (auto r = core_.Stage("stage_cards",
                           "line BIGINT, staff_key " + core_.KeyType() + ", issued_on " + core_.DateType() +
                               ", school_year INTEGER, serial TEXT",
                           {"line", "staff_key", "issued_on", "school_year", "serial"}, stage);
      !r)
    return std::unexpected(r.error());
  if (progress) progress(total * 3 / 4, total);
  auto not_on_roster = [&] {
    return ReportNotOnRoster(*core_.db, "stage_cards", year, staff_col + 1, "not_on_roster", problems);
  };
  if (!problems.empty()) {  // list the staff not on the roster too, then import nothing
    if (auto r = not_on_roster(); !r) return std::unexpected(r.error());
    return problems.ToError();
  }
  // The audit entry lists the new cards (CardList). A second thread fingerprints every staged
  // row while the database inserts (usually every one makes a card) and then frees the staged
  // rows and the parsed records, which the rest of the import does not touch (it needs their
  // counts only: `staged`, `total`).
  const size_t staged = stage.size();
  const std::string year_text = std::to_string(year);
  std::vector<CsvRecord>& records = (*in)->table.records;
  auto listing = std::async(Beside(staged), [&stage, &records, &year_text, channel] {
    std::vector<std::pair<std::string, Fingerprint>> fingerprints;
    fingerprints.reserve(stage.size());
    for (const Row& st : stage)
      fingerprints.emplace_back(
          *st[4], CardFingerprint(*st[4], year_text, *st[1], ChannelName(channel), *st[2], *st[3], ""));
    std::string all = CardList(fingerprints);
    std::vector<Row>().swap(stage);
    std::vector<CsvRecord>().swap(records);
    return std::pair(std::move(fingerprints), std::move(all));
  });
  // $1 year, $2 channel, $3 audit entry (SQLite's upkeep query takes $1 = the entry alone).
  auto added = InsertCards(
      core_,
      {"serial, roster_id, channel, issued_on, school_year, status, update_tag, audit_seq",
       "s.serial AS serial, r.id AS roster_id, CAST($2 AS TEXT) AS channel, s.issued_on AS issued_on, "
       "s.school_year AS school_year, 'active' AS status, CAST($3 AS BIGINT) AS update_tag, CAST($3 AS "
       "BIGINT) AS "
       "audit_seq",
       "FROM stage_cards s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key", "$2"},
      {int64_t{year}, std::string(ChannelName(channel)), *seq}, *seq, year, channel, first_sy, last_sy);
  if (!added) return std::unexpected(added.error());
  // Every staged row made a card, or its holder had one already, or is not on the roster (a
  // bad row: the transaction is rolled back). Only look when some made no card.
  if (static_cast<size_t>(*added) < staged) {
    if (auto r = not_on_roster(); !r) return std::unexpected(r.error());
    if (!problems.empty()) return problems.ToError();
  }
  if (auto r = core_.RefreshStatistics("cards", static_cast<uint64_t>(*added)); !r)
    return std::unexpected(r.error());
  // The new cards' fields go into the audit entry (see CardFingerprint). Usually every staged
  // row made a card; otherwise ask which did.
  auto [fingerprints, card_list] = listing.get();
  if (static_cast<size_t>(*added) < staged) {
    std::unordered_map<std::string, bool> made;
    if (*added > 0) {
      auto r =
          core_.db->Scan("SELECT s.serial FROM stage_cards s CROSS JOIN cards c WHERE c.serial = s.serial",
                         {}, [&](const Db::Cells& c) { made.emplace(std::string(c.Text(0)), true); });
      if (!r) return std::unexpected(r.error());
    }
    std::erase_if(fingerprints, [&](const auto& f) { return !made.count(f.first); });
    card_list = CardList(std::move(fingerprints));
  }
  ImportSummary sum{total, static_cast<uint64_t>(*added), total - static_cast<uint64_t>(*added)};
  if (auto r = core_.Finish(tx, *seq, "import " + std::string(ChannelName(channel)),
                            ImportDetail(csv, year, "cards", sum, std::move(card_list)), sum.added);
      !r)
    return std::unexpected(r.error());
  if (progress) progress(total, total);
  return sum;
}

Result<ImportSummary> Imports::ImportPublished(const CsvSource& csv) {
  std::lock_guard lock(core_.mu);
  static const std::vector<std::string> kNames = {
      "calendar_year",        "eligible_staff", "sent_to_subscribers", "sent_to_starters",
      "picked_up_at_library", "holders_total",  "published_share"};
  std::vector<PublishedRow> rows;
  std::vector<int> row_lines;
  auto in = ReadCsvImport(csv, kNames, {}, [&](CsvImport& f, const CsvRecord& rec) {
    PublishedRow p;
    bool bad = false;
    p.label = f.Field(rec, 0);
    std::string lower = Lower(p.label);
    if (lower == "totaal" || lower == "total") {
      p.year = std::nullopt;
    } else if (auto y = ParseCount(p.label); y && p.label.size() == 4 && *y >= 1990 && *y <= kMaxYear) {
      p.year = static_cast<int>(*y);
    } else {
      f.Bad(rec, 0, "published_label", Cell(p.label));
      bad = true;
    }
    int64_t* nums[] = {&p.eligible, &p.subscribers, &p.starters, &p.library, &p.holders};
    for (size_t i = 0; i < 5; ++i) {
      auto v = ParseCount(f.Field(rec, i + 1));
      if (!v) {
        f.Bad(rec, i + 1, "whole_number", Cell(f.Field(rec, i + 1)));
        bad = true;
      } else {
        *nums[i] = *v;
      }
    }
    p.printed_share = f.Field(rec, 6);
    {
      std::string_view sh = p.printed_share;
      bool ok = sh.size() >= 2 && sh.back() == '%';
      if (ok) {
        sh.remove_suffix(1);
        auto sep = sh.find_first_of(".,");
        std::string_view whole = sh.substr(0, sep),
                         frac = sep == std::string_view::npos ? "" : sh.substr(sep + 1);
        ok = !whole.empty() && whole.size() <= 3 &&
             whole.find_first_not_of("0123456789") == std::string_view::npos &&
             (sep == std::string_view::npos ||
              (!frac.empty() && frac.find_first_not_of("0123456789") == std::string_view::npos));
      }
      if (!ok) {
        f.Bad(rec, 6, "printed_share", Cell(p.printed_share));
        bad = true;
      }
    }
    if (!bad && p.holders > p.eligible) f.Bad(rec, 5, "holders_over_eligible"), bad = true;
    if (bad || !f.FirstMention(rec, 0, p.label, "duplicate_label", {{"label", p.label}})) return;
    rows.push_back(p);
    row_lines.push_back(rec.line);
  });
  if (!in) return std::unexpected(in.error());
  Problems& problems = *(*in)->problems;
  const auto& t = (*in)->table;
  const auto& cols = (*in)->cols;
  const std::string& file = (*in)->file;
  if (!problems.empty()) return problems.ToError();
  if (rows.empty()) return RefuseFile(file, 0, "no_data_rows");

  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  auto existing = ReadPublished(*core_.db);
  if (!existing) return std::unexpected(existing.error());
  ImportSummary sum{t.records.size(), 0, 0};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& p = rows[i];
    auto same = std::find_if(existing->begin(), existing->end(), [&](auto& e) { return e.label == p.label; });
    if (same != existing->end()) {
      if (same->year == p.year && same->eligible == p.eligible && same->subscribers == p.subscribers &&
          same->starters == p.starters && same->library == p.library && same->holders == p.holders &&
          same->printed_share == p.printed_share)
        ++sum.present;
      else
        problems.Add(row_lines[i], cols[0] + 1, "published_differs", {{"label", p.label}});
      continue;
    }
    auto r = core_.db->Execute(
        "INSERT INTO published_uptake (label, year, eligible, subscribers, starters, library, holders, "
        "printed_share, source, audit_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {p.label, p.year ? Value(int64_t{*p.year}) : Value(), p.eligible, p.subscribers, p.starters,
         p.library, p.holders, p.printed_share, std::filesystem::path(csv.name).filename().string(), *seq});
    if (!r) {
      if (r.error().code == Code::kFailedPrecondition)
        problems.Add(row_lines[i], cols[0] + 1, "published_conflict");
      else
        return std::unexpected(r.error());
    } else {
      ++sum.added;
    }
  }
  if (!problems.empty()) return problems.ToError();
  if (auto r = core_.Finish(tx, *seq, "import published", ImportDetail(csv, 0, "published_uptake", sum),
                            sum.added);
      !r)
    return std::unexpected(r.error());
  return sum;
}

Result<ImportSummary> Imports::ImportRoster(const std::filesystem::path& csv, int year,
                                            const Progress& progress) {
  auto source = ReadCsvSource(csv);
  if (!source) return std::unexpected(source.error());
  return ImportRoster(*source, year, progress);
}

Result<ImportSummary> Imports::ImportChannel(Channel channel, const std::filesystem::path& csv, int year,
                                             const Progress& progress) {
  auto source = ReadCsvSource(csv);
  if (!source) return std::unexpected(source.error());
  return ImportChannel(channel, *source, year, progress);
}

Result<ImportSummary> Imports::ImportPublished(const std::filesystem::path& csv) {
  auto source = ReadCsvSource(csv);
  if (!source) return std::unexpected(source.error());
  return ImportPublished(*source);
}

Result<CsvSource> ReadCsvSource(const std::filesystem::path& file) {
  auto text = ReadFile(file);
  if (!text) return Fail(Code::kInvalidArgument, text.error().message);
  return CsvSource{file.string(), std::move(*text)};
}

Result<std::string> ProvinceOfPostcode(int pc) {
  struct Range {
    int lo, hi;
    const char* name;
  };
  static constexpr Range kRanges[] = {
      {1000, 1299, "Brussel"},
      {1300, 1499, "Waals-Brabant"},
      {1500, 1999, "Vlaams-Brabant"},
      {2000, 2999, "Antwerpen"},
      {3000, 3499, "Vlaams-Brabant"},
      {3500, 3999, "Limburg"},
      {4000, 4999, "Luik"},
      {5000, 5999, "Namen"},
      {6000, 6599, "Henegouwen"},
      {6600, 6999, "Luxemburg"},
      {7000, 7999, "Henegouwen"},
      {8000, 8999, "West-Vlaanderen"},
      {9000, 9999, "Oost-Vlaanderen"},
  };
  for (const auto& r : kRanges)
    if (pc >= r.lo && pc <= r.hi) return std::string(r.name);
  return Fail(Code::kInvalidArgument, "postcode " + std::to_string(pc) + " is not a Belgian postcode");
}

}  // namespace lk::ledger
