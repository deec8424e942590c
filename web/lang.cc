// Language negotiation: the remembered choice, then Accept-Language (RFC 9110 §12.5.4), then nl.
#include <cctype>
#include <cstdlib>

#include "web/web.h"

namespace lk::web {

std::string_view LangCode(Lang lang) {
  switch (lang) {
    case Lang::kFr:
      return "fr";
    case Lang::kEn:
      return "en";
    case Lang::kNl:
      break;
  }
  return "nl";
}

std::optional<Lang> ParseLang(std::string_view code) {
  for (Lang l : kLangs)
    if (code == LangCode(l)) return l;
  return std::nullopt;
}

Lang NegotiateLang(std::string_view cookie, std::string_view accept_language) {
  if (auto l = ParseLang(cookie)) return *l;
  std::optional<Lang> best;
  double best_q = 0;
  std::string_view rest = accept_language;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::string_view range = Trim(item.substr(0, item.find(';')));
    double q = 1;
    if (size_t semi = item.find(';'); semi != std::string_view::npos) {
      std::string_view params = Trim(item.substr(semi + 1));
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
        std::string value(Trim(params.substr(2)).substr(0, 5));
        char* end = nullptr;
        q = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || q < 0 || q > 1) q = 0;
      }
    }
    std::string primary(range.substr(0, range.find('-')));
    for (char& c : primary) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto lang = ParseLang(primary);
    if (lang && q > best_q) {  // the first of equal q wins
      best = lang;
      best_q = q;
    }
  }
  return best.value_or(Lang::kNl);
}

}  // namespace lk::web
