// Loading, validating and rendering a pass template directory.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "templates/internal/text.h"
#include "templates/templates.h"

namespace lk::templates {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using internal::EscapeJson;
using internal::EscapeStrings;
using internal::Invalid;

namespace {

constexpr std::array kStyles = {"storeCard", "generic"};
constexpr std::array kFieldLists = {"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields",
                                    "backFields"};
constexpr std::array kOwnedByGenerator = {
    "formatVersion", "passTypeIdentifier", "teamIdentifier", "serialNumber",  "barcode",
    "barcodes",      "expirationDate",     "voided",         "webServiceURL", "authenticationToken"};
constexpr std::array kOtherStyles = {"boardingPass", "coupon", "eventTicket"};
constexpr std::array kTemplateKeys = {"templateVersion", "year", "style",          "languages",
                                      "images",          "pass", "barcodeAltText", "followingYears"};
constexpr std::array kDateStyles = {"PKDateStyleNone", "PKDateStyleShort", "PKDateStyleMedium",
                                    "PKDateStyleLong", "PKDateStyleFull"};
constexpr std::array kAlignments = {"PKTextAlignmentLeft", "PKTextAlignmentCenter", "PKTextAlignmentRight",
                                    "PKTextAlignmentNatural"};
constexpr std::array kNumberStyles = {"PKNumberStyleDecimal", "PKNumberStylePercent",
                                      "PKNumberStyleScientific", "PKNumberStyleSpellOut"};

template <size_t N>
bool In(const std::array<const char*, N>& set, std::string_view s) {
  return std::any_of(set.begin(), set.end(), [&](const char* x) { return s == x; });
}
template <size_t N>
std::string Join(const std::array<const char*, N>& set) {
  std::string out;
  for (const char* s : set) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

struct PngSize {
  uint32_t width = 0, height = 0;
};
std::optional<PngSize> ReadPngSize(std::string_view bytes) {
  if (bytes.size() < 33 || bytes.substr(0, 8) != std::string_view("\x89PNG\r\n\x1a\n", 8) ||
      bytes.substr(12, 4) != "IHDR")
    return std::nullopt;
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(bytes[at + k]);
    return v;
  };
  PngSize s{be32(16), be32(20)};
  if (s.width == 0 || s.height == 0 || s.width > 4096 || s.height > 4096) return std::nullopt;
  return s;
}

// Images each style may show (Apple, Wallet Developer Guide, table 4-1), and their point sizes.
std::vector<std::string> AllowedImages(std::string_view style) {
  if (style == "storeCard") return {"icon", "logo", "strip"};
  return {"icon", "logo", "thumbnail"};
}

}  // namespace

struct Template::Impl {
  fs::path dir;
  int year = 0;
  int own_year = 0;                     // the year in template.json (year differs when it serves a later one)
  bool serves_following_years = false;  // "followingYears": true
  std::string style;
  std::vector<std::string> languages;
  std::vector<StaticFile> files;
  std::string barcode_alt_text;
  ojson pass;                                                         // the "pass" member, as written
  std::map<std::string, std::map<std::string, std::string>> strings;  // lang -> key -> text
  std::set<std::string> used_keys;                                    // "@key" references, sorted

  // Precompiled output per fallback language: literal text with placeholder slots, so that a
  // render is a few appends (see Compile below).
  struct Segment {
    std::string literal;  // already escaped for its file format
    int slot = -1;        // placeholder index (kSlotNames), or -1 for a literal
  };
  using Compiled = std::vector<Segment>;
  struct Language {
    std::string lang;
    Compiled members, barcode_alt;                          // JSON-escaped
    std::vector<std::pair<std::string, Compiled>> strings;  // path -> .strings-escaped file
  };
  std::vector<Language> compiled;
};

namespace {

class Loader {
 public:
  explicit Loader(Template::Impl& t) : t_(t) {}

  Result<> Run() {
    fs::path file = t_.dir / "template.json";
    json_name_ = file.string();
    auto text = ReadFile(file);
    if (!text) return Fail(Code::kInvalidArgument, text.error().message);
    ojson doc;
    try {
      doc = ojson::parse(*text);
    } catch (const nlohmann::json::parse_error& e) {
      return Invalid(json_name_, std::string("not valid JSON: ") + e.what());
    }
    if (!doc.is_object()) return Bad("", "must be a JSON object");
    for (auto& [k, v] : doc.items())
      if (!In(kTemplateKeys, k)) return Bad(k, "unknown template key (known: " + Join(kTemplateKeys) + ")");
    for (const char* k : {"templateVersion", "year", "style", "languages", "images", "pass"})
      if (!doc.contains(k)) return Bad(k, "missing");
    if (!doc["templateVersion"].is_number_integer() || doc["templateVersion"] != 1)
      return Bad("templateVersion", "must be the number 1");
    if (!doc["year"].is_number_integer() || doc["year"] < 2000 || doc["year"] > 2100)
      return Bad("year", "must be a card year such as 2026");
    t_.year = doc["year"].get<int>();
    t_.own_year = t_.year;
    if (doc.contains("followingYears")) {
      if (!doc["followingYears"].is_boolean()) return Bad("followingYears", "must be true or false");
      t_.serves_following_years = doc["followingYears"].get<bool>();
    }
    if (!doc["style"].is_string() || !In(kStyles, doc["style"].get<std::string>()))
      return Bad("style", "must be \"storeCard\" or \"generic\"");
    t_.style = doc["style"];
    if (auto r = LoadLanguages(doc["languages"]); !r) return r;
    if (auto r = LoadImages(doc["images"]); !r) return r;
    if (doc.contains("barcodeAltText")) {
      if (!doc["barcodeAltText"].is_string()) return Bad("barcodeAltText", "must be a string");
      t_.barcode_alt_text = doc["barcodeAltText"];
      if (auto r = CheckText(t_.barcode_alt_text, json_name_ + ": barcodeAltText"); !r) return r;
    }
    t_.pass = doc["pass"];
    if (auto r = CheckPass(t_.pass); !r) return r;
    if (auto r = LoadStrings(); !r) return r;
    return CheckNoStrayFiles();
  }

 private:
  std::unexpected<Error> Bad(const std::string& field, const std::string& what) {
    return Invalid(field.empty() ? json_name_ : json_name_ + ": " + field, what);
  }

  // A string in template.json: "@key" refers to pass.strings, anything else is literal text
  // with placeholders ("@@" for a literal leading '@').
  Result<> CheckText(const std::string& s, const std::string& where) {
    if (!IsValidUtf8(s)) return Invalid(where, "not valid UTF-8");
    if (s.starts_with("@") && !s.starts_with("@@")) {
      if (s.size() == 1) return Invalid(where, "empty strings key '@'");
      t_.used_keys.insert(s.substr(1));
      return {};
    }
    auto r = FillPlaceholders(s, CardValues{}, where);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  Result<> LoadLanguages(const ojson& langs) {
    if (!langs.is_array() || langs.empty())
      return Bad("languages", "must be a non-empty array such as [\"nl\", \"fr\", \"en\"]");
    for (size_t i = 0; i < langs.size(); ++i) {
      static const std::regex kLang("[a-z]{2,3}(-[A-Z]{2})?");
      std::string field = "languages[" + std::to_string(i) + "]";
      if (!langs[i].is_string() || !std::regex_match(langs[i].get<std::string>(), kLang))
        return Bad(field, "must be a language code such as \"nl\"");
      std::string l = langs[i];
      if (std::find(t_.languages.begin(), t_.languages.end(), l) != t_.languages.end())
        return Bad(field, "\"" + l + "\" is listed twice");
      t_.languages.push_back(l);
    }
    return {};
  }

  Result<> LoadImages(const ojson& images) {
    auto allowed = AllowedImages(t_.style);
    std::string allowed_text;
    for (auto& a : allowed) allowed_text += (allowed_text.empty() ? "" : ", ") + a;
    if (!images.is_array()) return Bad("images", "must be an array of image names");
    std::set<std::string> names;
    for (size_t i = 0; i < images.size(); ++i) {
      std::string field = "images[" + std::to_string(i) + "]";
      if (!images[i].is_string()) return Bad(field, "must be a string");
      std::string name = images[i];
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        return Bad(field,
                   "\"" + name + "\" is not an image a " + t_.style + " pass shows (" + allowed_text + ")");
      if (!names.insert(name).second) return Bad(field, "\"" + name + "\" is listed twice");
    }
    if (!names.contains("icon"))
      return Bad("images", "\"icon\" is required: Wallet refuses a pass without it");
    for (const auto& name : names) {
      PngSize base;
      for (int scale = 1; scale <= 3; ++scale) {
        std::string rel = name + (scale == 1 ? "" : "@" + std::to_string(scale) + "x") + ".png";
        fs::path path = t_.dir / rel;
        std::error_code ec;
        if (!fs::is_regular_file(path, ec))
          return Invalid(path.string(), "missing (image \"" + name + "\" needs " + name + ".png, " + name +
                                            "@2x.png and " + name + "@3x.png)");
        auto bytes = ReadFile(path);
        if (!bytes) return Fail(Code::kInvalidArgument, bytes.error().message);
        if (bytes->size() > 1024 * 1024)
          return Invalid(path.string(), "larger than 1 MiB; Wallet images are small");
        auto size = ReadPngSize(*bytes);
        if (!size) return Invalid(path.string(), "not a PNG image");
        if (scale == 1) {
          base = *size;
        } else if (size->width != base.width * uint32_t(scale) ||
                   size->height != base.height * uint32_t(scale)) {
          return Invalid(path.string(), "is " + std::to_string(size->width) + "x" +
                                            std::to_string(size->height) + " pixels but must be " +
                                            std::to_string(scale) + " times " + name + ".png (" +
                                            std::to_string(base.width * uint32_t(scale)) + "x" +
                                            std::to_string(base.height * uint32_t(scale)) + ")");
        }
        t_.files.push_back({rel, std::move(*bytes), ""});
      }
    }
    for (auto& f : t_.files) f.sha1_hex = HexEncode(Sha1(f.bytes));
    std::sort(t_.files.begin(), t_.files.end(), [](auto& a, auto& b) { return a.path < b.path; });
    return {};
  }

  Result<> CheckColor(const ojson& v, const std::string& field) {
    static const std::regex kRgb(R"(rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\))");
    std::smatch m;
    std::string s = v.is_string() ? v.get<std::string>() : "";
    if (!std::regex_match(s, m, kRgb) || std::stoi(m[1]) > 255 || std::stoi(m[2]) > 255 ||
        std::stoi(m[3]) > 255)
      return Bad(field, "must be a colour written rgb(r, g, b) with 0-255 components");
    return {};
  }

  Result<> CheckPass(const ojson& pass) {
    if (!pass.is_object()) return Bad("pass", "must be an object of pass.json keys");
    for (auto& [k, v] : pass.items()) {
      std::string field = "pass." + k;
      if (In(kOwnedByGenerator, k))
        return Bad(field, "is set by the generator from the card and the signing certificate; remove it");
      if (In(kOtherStyles, k))
        return Bad(field, "style not supported by lerarenkaart templates (storeCard or generic)");
      if (k == "storeCard" || k == "generic") {
        if (k != t_.style) return Bad(field, "does not match \"style\": \"" + t_.style + "\"");
        if (auto r = CheckStyle(v, field); !r) return r;
      } else if (k == "organizationName" || k == "description" || k == "logoText") {
        if (!v.is_string() || v.get<std::string>().empty()) return Bad(field, "must be a non-empty string");
        if (auto r = CheckText(v, json_name_ + ": " + field); !r) return r;
      } else if (k == "backgroundColor" || k == "foregroundColor" || k == "labelColor") {
        if (auto r = CheckColor(v, field); !r) return r;
      } else if (k == "sharingProhibited" || k == "suppressStripShine") {
        if (!v.is_boolean()) return Bad(field, "must be true or false");
      } else if (k == "relevantDate" || k == "relevantDates") {
        if (t_.style == "storeCard")
          return Bad(field, "a storeCard does not support relevant dates (Apple table 4-2)");
        if (!v.is_string() && !v.is_array()) return Bad(field, "must be a W3C date or an array of dates");
      } else if (k == "locations" || k == "beacons") {
        if (!v.is_array() || v.size() > 10) return Bad(field, "must be an array of at most 10 entries");
      } else if (k == "maxDistance") {
        if (!v.is_number() || v.get<double>() < 0)
          return Bad(field, "must be a non-negative number of metres");
      } else if (k == "associatedStoreIdentifiers") {
        if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](auto& x) { return x.is_number_integer(); }))
          return Bad(field, "must be an array of App Store identifiers (numbers)");
      } else if (k == "appLaunchURL") {
        if (!v.is_string()) return Bad(field, "must be a string");
        if (!pass.contains("associatedStoreIdentifiers"))
          return Bad(field, "requires associatedStoreIdentifiers");
      } else if (k == "groupingIdentifier") {
        return Bad(field, "only event tickets and boarding passes may be grouped");
      } else if (k == "userInfo" || k == "semantics") {
        if (!v.is_object()) return Bad(field, "must be an object");
      } else if (k == "nfc") {
        return Bad(field,
                   "NFC needs an NFC-entitled certificate from Apple, which lerarenkaart does not have");
      } else {
        return Bad(field, "not a pass.json key Apple allows");
      }
    }
    for (const char* k : {"organizationName", "description"})
      if (!pass.contains(k)) return Bad(std::string("pass.") + k, "missing (Apple requires it)");
    if (!pass.contains(t_.style)) return Bad("pass." + t_.style, "missing: the field lists of the pass");
    return {};
  }

  Result<> CheckStyle(const ojson& style, const std::string& where) {
    if (!style.is_object()) return Bad(where, "must be an object of field lists");
    std::set<std::string> keys;
    size_t secondary = 0, auxiliary = 0;
    for (auto& [list, fields] : style.items()) {
      std::string lw = where + "." + list;
      if (!In(kFieldLists, list)) return Bad(lw, "not a field list Apple allows (" + Join(kFieldLists) + ")");
      if (!fields.is_array()) return Bad(lw, "must be an array of fields");
      size_t limit = list == "headerFields" ? 3 : list == "primaryFields" ? 1 : list == "backFields" ? 50 : 4;
      if (fields.size() > limit) return Bad(lw, "at most " + std::to_string(limit) + " fields (Apple)");
      if (list == "secondaryFields") secondary = fields.size();
      if (list == "auxiliaryFields") auxiliary = fields.size();
      for (size_t i = 0; i < fields.size(); ++i)
        if (auto r = CheckField(fields[i], lw + "[" + std::to_string(i) + "]", keys); !r) return r;
    }
    if (secondary + auxiliary > 4)
      return Bad(where,
                 "a " + t_.style + " with a QR code shows at most 4 secondary and auxiliary fields together");
    return {};
  }

  Result<> CheckField(const ojson& f, const std::string& where, std::set<std::string>& keys) {
    if (!f.is_object()) return Bad(where, "must be an object");
    for (auto& [k, v] : f.items()) {
      std::string fw = where + "." + k;
      if (k == "key") {
        if (!v.is_string() || v.get<std::string>().empty()) return Bad(fw, "must be a non-empty string");
        if (!keys.insert(v.get<std::string>()).second)
          return Bad(fw, "\"" + v.get<std::string>() + "\" is used by another field; keys must be unique");
      } else if (k == "label" || k == "value" || k == "attributedValue" || k == "changeMessage") {
        if (k == "value" && v.is_number()) continue;
        if (!v.is_string()) return Bad(fw, "must be a string");
        if (k == "changeMessage" && v.get<std::string>().find("%@") == std::string::npos)
          return Bad(fw, "must contain %@ (where Wallet puts the new value)");
        if (auto r = CheckText(v, json_name_ + ": " + fw); !r) return r;
      } else if (k == "textAlignment") {
        if (!v.is_string() || !In(kAlignments, v.get<std::string>()))
          return Bad(fw, "must be one of " + Join(kAlignments));
      } else if (k == "dateStyle" || k == "timeStyle") {
        if (!v.is_string() || !In(kDateStyles, v.get<std::string>()))
          return Bad(fw, "must be one of " + Join(kDateStyles));
      } else if (k == "numberStyle") {
        if (!v.is_string() || !In(kNumberStyles, v.get<std::string>()))
          return Bad(fw, "must be one of " + Join(kNumberStyles));
      } else if (k == "ignoresTimeZone" || k == "isRelative") {
        if (!v.is_boolean()) return Bad(fw, "must be true or false");
      } else if (k == "currencyCode") {
        if (!v.is_string()) return Bad(fw, "must be an ISO 4217 code");
      } else if (k == "dataDetectorTypes") {
        if (!v.is_array()) return Bad(fw, "must be an array");
      } else if (k == "semantics") {
        if (!v.is_object()) return Bad(fw, "must be an object");
      } else {
        return Bad(fw, "not a field key Apple allows");
      }
    }
    if (!f.contains("key")) return Bad(where + ".key", "missing");
    if (!f.contains("value")) return Bad(where + ".value", "missing");
    if ((f.contains("dateStyle") || f.contains("timeStyle")) && f["value"].is_string()) {
      std::string v = f["value"];
      if (v != "{valid_from}" && v != "{valid_until}")
        return Bad(where + ".value",
                   "a field with dateStyle/timeStyle must hold a date: {valid_from} or {valid_until}");
    }
    return {};
  }

  Result<> LoadStrings() {
    for (const auto& lang : t_.languages) {
      fs::path path = t_.dir / (lang + ".lproj") / "pass.strings";
      std::string name = path.string();
      std::error_code ec;
      if (!fs::is_regular_file(path, ec))
        return Invalid(name, "missing (language \"" + lang + "\" is listed in template.json)");
      auto text = ReadFile(path);
      if (!text) return Fail(Code::kInvalidArgument, text.error().message);
      if (!IsValidUtf8(*text)) return Invalid(name, "not valid UTF-8");
      auto parsed = ParseStrings(*text, name);
      if (!parsed) return std::unexpected(parsed.error());
      for (const auto& [k, v] : *parsed)
        if (auto r = FillPlaceholders(v, CardValues{}, name + ": \"" + k + "\""); !r)
          return std::unexpected(r.error());
      t_.strings[lang] = std::move(*parsed);
    }
    // Every key used by template.json, and every key any language defines, exists in every language.
    for (const auto& lang : t_.languages) {
      std::string name = (t_.dir / (lang + ".lproj") / "pass.strings").string();
      const auto& table = t_.strings[lang];
      for (const auto& key : t_.used_keys)
        if (!table.contains(key))
          return Invalid(name, "missing translation key \"" + key + "\" (used in template.json)");
      for (const auto& other : t_.languages)
        for (const auto& [key, text] : t_.strings[other])
          if (!table.contains(key))
            return Invalid(name, "missing translation key \"" + key + "\" (defined in " + other +
                                     ".lproj/pass.strings)");
    }
    // The fallback language's text is the lookup key on the phone, so two keys with the same
    // text in one language must have the same text in every other language.
    for (const auto& l : t_.languages) {
      std::map<std::string, std::string> owner;
      for (const auto& key : t_.used_keys) {
        const std::string& text = t_.strings[l][key];
        auto [it, fresh] = owner.emplace(text, key);
        if (fresh) continue;
        for (const auto& m : t_.languages)
          if (t_.strings[m][key] != t_.strings[m][it->second])
            return Invalid((t_.dir / (l + ".lproj") / "pass.strings").string(),
                           "keys \"" + it->second + "\" and \"" + key +
                               "\" have the same text here but differ in " + m +
                               ".lproj; Wallet could not tell them apart");
      }
    }
    return {};
  }

  Result<> CheckNoStrayFiles() {
    std::set<std::string> known = {"template.json"};
    for (const auto& f : t_.files) known.insert(f.path);
    for (const auto& l : t_.languages) known.insert(l + ".lproj/pass.strings");
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(t_.dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string rel = fs::relative(it->path(), t_.dir).generic_string();
      if (it->is_directory()) {
        if (!rel.ends_with(".lproj") || !known.contains(rel + "/pass.strings"))
          return Invalid(it->path().string(),
                         "not part of the template (languages are "
                         "listed in template.json \"languages\")");
        continue;
      }
      if (!known.contains(rel))
        return Invalid(
            it->path().string(), "not part of the template; a " + t_.style +
                                     " shows only the images listed in template.json \"images\" (" +
                                     [&] {
                                       std::string s;
                                       for (auto& a : AllowedImages(t_.style))
                                         s += (s.empty() ? "" : ", ") + a;
                                       return s;
                                     }() +
                                     ")");
    }
    if (ec) return Invalid(t_.dir.string(), "cannot list: " + ec.message());
    return {};
  }

  Template::Impl& t_;
  std::string json_name_;
};

constexpr std::array kSlotNames = {"name", "school", "serial", "year", "valid_from", "valid_until"};
using Segment = Template::Impl::Segment;
using Compiled = Template::Impl::Compiled;

void AddLiteral(Compiled& c, std::string_view text) {
  if (text.empty()) return;
  if (c.empty() || c.back().slot >= 0) c.push_back({});
  c.back().literal += text;
}

// Appends `text` (placeholders allowed, already validated) escaped with `escape`.
void AddText(Compiled& c, std::string_view text, void (*escape)(std::string_view, std::string&)) {
  std::string lit;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if ((ch == '{' || ch == '}') && i + 1 < text.size() && text[i + 1] == ch) {
      lit += ch;
      ++i;
      continue;
    }
    if (ch != '{') {
      lit += ch;
      continue;
    }
    size_t end = text.find('}', i);
    std::string_view name = text.substr(i + 1, end - i - 1);
    std::string escaped;
    escape(lit, escaped);
    AddLiteral(c, escaped);
    lit.clear();
    int slot =
        int(std::find_if(kSlotNames.begin(), kSlotNames.end(), [&](const char* n) { return name == n; }) -
            kSlotNames.begin());
    c.push_back({"", slot});
    i = end;
  }
  std::string escaped;
  escape(lit, escaped);
  AddLiteral(c, escaped);
}

// Pretty JSON exactly as nlohmann's dump(2) writes it, with "@key" strings resolved in `lang`.
class JsonCompiler {
 public:
  JsonCompiler(const Template::Impl& t, const std::string& lang) : t_(t), lang_(lang) {}

  std::string Resolve(const std::string& s) const {
    if (s.starts_with("@@")) return s.substr(1);
    if (s.starts_with("@")) return t_.strings.at(lang_).at(s.substr(1));
    return s;
  }

  void Value(const ojson& v, int indent, Compiled& out) const {
    std::string pad(size_t(indent) * 2, ' ');
    if (v.is_string()) {
      AddLiteral(out, "\"");
      AddText(out, Resolve(v.get_ref<const std::string&>()), EscapeJson);
      AddLiteral(out, "\"");
    } else if (v.is_object()) {
      if (v.empty()) return AddLiteral(out, "{}");
      AddLiteral(out, "{\n");
      Members(v, indent + 1, out);
      AddLiteral(out, "\n" + pad + "}");
    } else if (v.is_array()) {
      if (v.empty()) return AddLiteral(out, "[]");
      AddLiteral(out, "[\n");
      bool first = true;
      for (const auto& e : v) {
        AddLiteral(out, std::string(first ? "" : ",\n") + pad + "  ");
        first = false;
        Value(e, indent + 1, out);
      }
      AddLiteral(out, "\n" + pad + "]");
    } else {
      AddLiteral(out, v.dump());
    }
  }

  // The members of object `v`, one per line at `indent`, without braces or a final newline.
  void Members(const ojson& v, int indent, Compiled& out) const {
    std::string pad(size_t(indent) * 2, ' ');
    bool first = true;
    for (auto& [k, member] : v.items()) {
      std::string key;
      EscapeJson(k, key);
      AddLiteral(out, std::string(first ? "" : ",\n") + pad + "\"" + key + "\": ");
      first = false;
      Value(member, indent, out);
    }
  }

 private:
  const Template::Impl& t_;
  const std::string& lang_;
};

void Compile(Template::Impl& t) {
  for (const auto& fallback : t.languages) {
    Template::Impl::Language out;
    out.lang = fallback;
    JsonCompiler json(t, fallback);
    json.Members(t.pass, 1, out.members);
    if (!t.barcode_alt_text.empty()) AddText(out.barcode_alt, json.Resolve(t.barcode_alt_text), EscapeJson);
    for (const auto& target : t.languages) {
      Compiled file;
      std::set<std::string> seen;  // one entry per fallback text (LoadStrings made them unambiguous)
      for (const auto& key : t.used_keys) {
        const std::string& from = t.strings.at(fallback).at(key);
        if (!seen.insert(from).second) continue;
        AddLiteral(file, "\"");
        AddText(file, from, EscapeStrings);
        AddLiteral(file, "\" = \"");
        AddText(file, t.strings.at(target).at(key), EscapeStrings);
        AddLiteral(file, "\";\n");
      }
      out.strings.emplace_back(target + ".lproj/pass.strings", std::move(file));
    }
    std::sort(out.strings.begin(), out.strings.end(), [](auto& a, auto& b) { return a.first < b.first; });
    t.compiled.push_back(std::move(out));
  }
}

std::string Expand(const Compiled& c, const std::array<std::string, kSlotNames.size()>& values) {
  size_t n = 0;
  for (const auto& s : c) n += s.slot < 0 ? s.literal.size() : values[size_t(s.slot)].size();
  std::string out;
  out.reserve(n);
  for (const auto& s : c) out += s.slot < 0 ? s.literal : values[size_t(s.slot)];
  return out;
}

}  // namespace

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::~Template() = default;

Result<std::unique_ptr<Template>> Template::Load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Invalid(dir.string(), "not a template directory");
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  try {
    if (auto r = Loader(*impl).Run(); !r) return std::unexpected(r.error());
    Compile(*impl);
  } catch (const std::exception& e) {  // nlohmann type errors on odd input, filesystem errors
    return Invalid(dir.string(), e.what());
  }
  return std::unique_ptr<Template>(new Template(std::move(impl)));
}

Result<std::unique_ptr<Template>> Template::LoadFor(const fs::path& root, int year) {
  std::error_code ec;
  if (fs::exists(root / std::to_string(year), ec)) return Load(root / std::to_string(year));
  for (int y = year - 1; y >= year - kMaxFollowingYears && y >= 2000; --y) {
    const fs::path dir = root / std::to_string(y);
    if (!fs::exists(dir / "template.json", ec)) continue;
    auto t = Load(dir);  // the newest earlier template decides: it serves `year` or nothing does
    if (!t) return t;
    if (!(*t)->impl_->serves_following_years || (*t)->impl_->own_year != y)
      return Fail(Code::kNotFound, (root / std::to_string(year)).string() + ": no template for card year " +
                                       std::to_string(year) + ", and the newest earlier one (" +
                                       (dir / "template.json").string() +
                                       ") does not declare \"followingYears\": true");
    (*t)->impl_->year = year;
    return t;
  }
  return Fail(Code::kNotFound,
              (root / std::to_string(year)).string() + ": no template for card year " + std::to_string(year));
}

int Template::year() const { return impl_->year; }
int Template::own_year() const { return impl_->own_year; }
const std::string& Template::style() const { return impl_->style; }
const std::vector<std::string>& Template::languages() const { return impl_->languages; }
bool Template::has_language(std::string_view lang) const {
  return std::find(impl_->languages.begin(), impl_->languages.end(), lang) != impl_->languages.end();
}
const std::vector<StaticFile>& Template::static_files() const { return impl_->files; }
const fs::path& Template::dir() const { return impl_->dir; }

Result<Template::Rendered> Template::Render(const CardValues& card, std::string_view lang) const {
  for (const std::string* v : {&card.name, &card.school, &card.serial})
    if (!IsValidUtf8(*v)) return Fail(Code::kInvalidArgument, "card value is not valid UTF-8");
  auto it =
      std::find_if(impl_->compiled.begin(), impl_->compiled.end(), [&](auto& c) { return c.lang == lang; });
  if (it == impl_->compiled.end())
    return Fail(Code::kInvalidArgument,
                "language \"" + std::string(lang) + "\" is not in template " + impl_->dir.string());
  std::array<std::string, kSlotNames.size()> raw = {
      card.name, card.school, card.serial, std::to_string(card.year), card.valid_from, card.valid_until};
  std::array<std::string, kSlotNames.size()> json, strings;
  for (size_t i = 0; i < raw.size(); ++i) {
    EscapeJson(raw[i], json[i]);
    EscapeStrings(raw[i], strings[i]);
  }
  Rendered out;
  out.members_json = Expand(it->members, json);
  out.barcode_alt_text_json = Expand(it->barcode_alt, json);
  out.strings.reserve(it->strings.size());
  for (const auto& [path, file] : it->strings) out.strings.emplace_back(path, Expand(file, strings));
  return out;
}

}  // namespace lk::templates
