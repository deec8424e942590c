// libFuzzer target: the template loader's parsers must never crash or hang, and must answer bad
// input with kInvalidArgument naming the file. The first byte picks the parser:
//   's' Apple .strings (ParseStrings); a parsed file must survive FormatStrings and parse back
//       to the same map;
//   'p' placeholder filling (FillPlaceholders);
//   'f' fr.lproj/pass.strings of an otherwise good template (Template::Load, then Render);
//   anything else: template.json of an otherwise good template (Template::Load, then Render).
// Build with clang >= 16: cmake -DCMAKE_CXX_COMPILER=clang++ -DLK_FUZZ=ON, then
//   build-fuzz/tests/fuzz/template_parse_fuzz tests/fuzz/corpus/template_parse
// Without LK_FUZZ the same function runs under ctest over the seed corpus (replay_main.cc).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "templates/templates.h"

#ifndef LK_FUZZ_SOURCE_DIR
#define LK_FUZZ_SOURCE_DIR "."
#endif

namespace {
using namespace lk;
namespace fs = std::filesystem;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "template_parse_fuzz: %s\n", what);
    std::abort();
  }
}

// A refusal must be kInvalidArgument with a message that starts with `where`.
void CheckRefusal(const Error& e, const std::string& where) {
  Check(e.code == Code::kInvalidArgument, "an error that is not kInvalidArgument");
  Check(e.message.starts_with(where), "an error that does not name the file first");
}

void Write(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Target {
  Target() {
    dir = fs::temp_directory_path() / ("lk-fuzz-template-" + HexEncode(RandomBytes(6)));
    fs::copy(fs::path(LK_FUZZ_SOURCE_DIR) / "templates" / "2026", dir, fs::copy_options::recursive);
    std::ifstream json(dir / "template.json", std::ios::binary),
        fr(dir / "fr.lproj" / "pass.strings", std::ios::binary);
    good_json.assign(std::istreambuf_iterator<char>(json), {});
    good_fr.assign(std::istreambuf_iterator<char>(fr), {});
  }
  ~Target() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void LoadAndRender(const std::string& where) {
    auto t = templates::Template::Load(dir);
    if (!t) return CheckRefusal(t.error(), where);
    templates::CardValues card{
        "Ine Vermeulen",   "Sint-Lodewijkscollege, Brugge", "LK26-000042",
        t.value()->year(), "2026-01-01T00:00:00+01:00",     "2026-12-31T23:59:59+01:00"};
    for (const auto& lang : t.value()->languages()) {
      auto r = t.value()->Render(card, lang);
      Check(r.has_value(), "a loaded template that cannot render a good card");
    }
  }
  fs::path dir;
  std::string good_json, good_fr;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target t;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 's': {
      auto parsed = templates::ParseStrings(rest, "x.strings");
      if (!parsed) {
        CheckRefusal(parsed.error(), "x.strings:");
        break;
      }
      std::vector<std::pair<std::string, std::string>> entries(parsed->begin(), parsed->end());
      auto again = templates::ParseStrings(templates::FormatStrings(entries), "again.strings");
      Check(again.has_value() && *again == *parsed,
            "FormatStrings output does not parse back to the same map");
      break;
    }
    case 'p': {
      templates::CardValues card{
          "Ine", "School", "LK26-1", 2026, "2026-01-01T00:00:00+01:00", "2026-12-31T23:59:59+01:00"};
      auto filled = templates::FillPlaceholders(rest, card, "field");
      if (!filled) CheckRefusal(filled.error(), "field");
      break;
    }
    case 'f':
      Write(t.dir / "template.json", t.good_json);
      Write(t.dir / "fr.lproj" / "pass.strings", rest);
      t.LoadAndRender(t.dir.string());
      Write(t.dir / "fr.lproj" / "pass.strings", t.good_fr);
      break;
    default:
      Write(t.dir / "template.json", rest);
      Write(t.dir / "fr.lproj" / "pass.strings", t.good_fr);
      t.LoadAndRender(t.dir.string());
      Write(t.dir / "template.json", t.good_json);
      break;
  }
  return 0;
}
