// The template engine and the embedded site. Templates are parsed once (Load) into a tree;
// Render walks it. Every value is HTML-escaped unless the template asks for {{&markup}}, which
// only code-made markup fills. Chosen over libctemplate (Debian's libctemplate-dev): its
// auto-escape needs a modifier per variable in each template and its translation story is
// none; this engine is ~150 lines, escapes by default and checks every translation at startup.
#include <array>
#include <vector>

#include "web/internal/embedded.h"
#include "web/web.h"

namespace lk::web {
namespace {

struct Node {
  enum Kind { kText, kValue, kMarkup, kTranslate, kSection, kInverted } kind;
  std::string arg;             // the literal text, the value name, the key or the flag
  std::vector<Node> children;  // of a section
};

// Parses `src` from `pos` until "{{/name}}" (or the end when `closing` is empty).
Result<std::vector<Node>> Parse(std::string_view file, std::string_view src, size_t& pos,
                                std::string_view closing) {
  std::vector<Node> out;
  while (pos < src.size()) {
    size_t open = src.find("{{", pos);
    if (open != pos) {
      size_t end = open == std::string_view::npos ? src.size() : open;
      out.push_back({Node::kText, std::string(src.substr(pos, end - pos)), {}});
      pos = end;
      if (open == std::string_view::npos) break;
    }
    size_t close = src.find("}}", open);
    if (close == std::string_view::npos)
      return Fail(Code::kInternal, std::string(file) + ": '{{' without '}}'");
    std::string_view tag = Trim(src.substr(open + 2, close - open - 2));
    pos = close + 2;
    if (tag.empty()) return Fail(Code::kInternal, std::string(file) + ": an empty {{}}");
    std::string name(Trim(tag.substr(tag.starts_with("t:") ? 2 : 1)));
    switch (tag[0]) {
      case '/':
        if (name != closing)
          return Fail(Code::kInternal, std::string(file) + ": {{/" + name + "}} closes nothing open");
        return out;
      case '#':
      case '^': {
        auto children = Parse(file, src, pos, name);
        if (!children) return children;
        out.push_back({tag[0] == '#' ? Node::kSection : Node::kInverted, name, std::move(*children)});
        break;
      }
      case '&':
        out.push_back({Node::kMarkup, name, {}});
        break;
      default:
        if (tag.starts_with("t:"))
          out.push_back({Node::kTranslate, name, {}});
        else
          out.push_back({Node::kValue, std::string(tag), {}});
    }
  }
  if (!closing.empty())
    return Fail(Code::kInternal, std::string(file) + ": {{#" + std::string(closing) + "}} is never closed");
  return out;
}

using Strings = std::map<std::string, std::string, std::less<>>;

// "key = value" lines; blank lines and lines starting with '#' are skipped.
Result<Strings> ParseStrings(std::string_view file, std::string_view src) {
  Strings out;
  int line_no = 0;
  while (!src.empty()) {
    ++line_no;
    size_t nl = src.find('\n');
    std::string_view line = Trim(src.substr(0, nl));
    src = nl == std::string_view::npos ? std::string_view() : src.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return Fail(Code::kInternal, std::string(file) + ":" + std::to_string(line_no) + ": not 'key = value'");
    out[std::string(Trim(line.substr(0, eq)))] = std::string(Trim(line.substr(eq + 1)));
  }
  return out;
}

// Every {{t:key}} of a template.
void Keys(const std::vector<Node>& nodes, std::set<std::string>& out) {
  for (const Node& n : nodes) {
    if (n.kind == Node::kTranslate) out.insert(n.arg);
    Keys(n.children, out);
  }
}

class EmbeddedSite final : public Site {
 public:
  Result<> Init() {
    std::set<std::string> used;
    for (const auto& f : internal::EmbeddedFiles()) {
      std::string_view name = f.name;
      if (name.starts_with("pages/") && name.ends_with(".html")) {
        size_t pos = 0;
        auto nodes = Parse(name, f.data, pos, "");
        if (!nodes) return std::unexpected(nodes.error());
        Keys(*nodes, used);
        pages_[std::string(name.substr(6, name.size() - 11))] = std::move(*nodes);
      } else if (name.starts_with("strings/") && name.ends_with(".strings")) {
        auto lang = ParseLang(name.substr(8, name.size() - 16));
        if (!lang)
          return Fail(Code::kInternal, std::string(name) + ": not a language of the site (nl, fr, en)");
        auto strings = ParseStrings(name, f.data);
        if (!strings) return std::unexpected(strings.error());
        strings_[static_cast<int>(*lang)] = std::move(*strings);
      } else if (name == "static/site.css") {
        css_ = f.data;
      }
    }
    if (!pages_.contains("layout")) return Fail(Code::kInternal, "pages/layout.html is missing");
    for (const auto& [page, nodes] : pages_)
      if (page != "layout" && !page.starts_with("part_")) used.insert("title." + page);
    for (Lang l : kLangs) {
      const Strings& s = strings_[static_cast<int>(l)];
      for (const std::string& key : used)
        if (!s.contains(key))
          return Fail(Code::kInternal,
                      "strings/" + std::string(LangCode(l)) + ".strings has no '" + key + "'");
      for (const auto& [key, value] : s)
        if (!strings_[0].contains(key))
          return Fail(Code::kInternal,
                      "strings/" + std::string(LangCode(l)) + ".strings: '" + key + "' is not in nl.strings");
    }
    return {};
  }

  Result<std::string> Render(std::string_view page, Lang lang, const Values& values) const override {
    auto it = pages_.find(page);
    if (it == pages_.end() || page == "layout")
      return Fail(Code::kNotFound, "no page '" + std::string(page) + "'");
    std::string content;
    content.reserve(8192);
    Walk(it->second, lang, values, content);
    Values outer;
    outer.text = values.text;
    outer.flags = values.flags;
    outer.text["lang"] = LangCode(lang);
    outer.text["page_title"] = Text(lang, "title." + std::string(page));
    outer.flags.insert("lang_" + std::string(LangCode(lang)));
    outer.markup["content"] = std::move(content);
    std::string html;
    html.reserve(outer.markup["content"].size() + 4096);
    Walk(pages_.at("layout"), lang, outer, html);
    return html;
  }

  Result<std::string> RenderPart(std::string_view part, Lang lang, const Values& values) const override {
    auto it = pages_.find(part);
    if (it == pages_.end() || !part.starts_with("part_"))
      return Fail(Code::kNotFound, "no part '" + std::string(part) + "'");
    std::string out;
    Walk(it->second, lang, values, out);
    return out;
  }

  std::string_view Text(Lang lang, std::string_view key) const override {
    const Strings& s = strings_[static_cast<int>(lang)];
    auto it = s.find(key);
    return it == s.end() ? std::string_view() : std::string_view(it->second);
  }
  std::string_view Stylesheet() const override { return css_; }
  std::string_view File(std::string_view path) const override {
    for (const auto& f : internal::EmbeddedFiles())
      if (f.name == path) return f.data;
    return {};
  }

 private:
  void Walk(const std::vector<Node>& nodes, Lang lang, const Values& v, std::string& out) const {
    for (const Node& n : nodes) {
      switch (n.kind) {
        case Node::kText:
          out += n.arg;
          break;
        case Node::kValue:
          if (auto it = v.text.find(n.arg); it != v.text.end()) out += HtmlEscape(it->second);
          break;
        case Node::kMarkup:
          if (auto it = v.markup.find(n.arg); it != v.markup.end()) out += it->second;
          break;
        case Node::kTranslate:
          out += HtmlEscape(Text(lang, n.arg));
          break;
        case Node::kSection:
        case Node::kInverted:
          if (v.flags.contains(n.arg) == (n.kind == Node::kSection)) Walk(n.children, lang, v, out);
          break;
      }
    }
  }

  std::map<std::string, std::vector<Node>, std::less<>> pages_;
  std::array<Strings, 3> strings_;
  std::string_view css_;
};

}  // namespace

Result<std::unique_ptr<const Site>> Site::Load() {
  auto site = std::make_unique<EmbeddedSite>();
  if (auto r = site->Init(); !r) return std::unexpected(r.error());
  return std::unique_ptr<const Site>(std::move(site));
}

}  // namespace lk::web
