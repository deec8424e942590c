// The card's QR code as inline SVG: one path of horizontal runs of dark modules per row, which
// keeps a 300-character token's code near 10 KB.
#include <qrencode.h>

#include <memory>
#include <string>

#include "web/web.h"

namespace lk::web {

Result<std::string> QrSvg(std::string_view text, std::string_view label) {
  std::string data(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString8bit(data.c_str(), 0, QR_ECLEVEL_M),
                                                     &QRcode_free);
  if (!qr)
    return Fail(Code::kInvalidArgument,
                "the text does not fit in a QR code (" + std::to_string(text.size()) + " bytes)");
  const int n = qr->width, quiet = 4, size = n + 2 * quiet;
  std::string path;
  path.reserve(static_cast<size_t>(n) * n);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n;) {
      if (!(qr->data[y * n + x] & 1)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < n && (qr->data[y * n + x + run] & 1)) ++run;
      path += "M" + std::to_string(x + quiet) + " " + std::to_string(y + quiet) + "h" + std::to_string(run) +
              "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  std::string s = std::to_string(size);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + s + " " + s +
         "\" role=\"img\" aria-label=\"" + HtmlEscape(label) +
         "\" shape-rendering=\"crispEdges\" class=\"qr\"><rect width=\"" + s + "\" height=\"" + s +
         "\" fill=\"#fff\"/><path fill=\"#000\" d=\"" + path + "\"/></svg>";
}

}  // namespace lk::web
