// The libcurl receive callbacks (http_receive.h).
#include "base/http_receive.h"

#include <cctype>
#include <string_view>

#include "base/base.h"

namespace lk {

size_t ReceiveBody(char* data, size_t size, size_t n, void* response) {
  auto* r = static_cast<ReceivedResponse*>(response);
  if (r->body.size() + size * n > r->max_body_bytes) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  r->body.append(data, size * n);
  return size * n;
}

size_t ReceiveHeader(char* data, size_t size, size_t n, void* response) {
  auto* r = static_cast<ReceivedResponse*>(response);
  std::string_view line(data, size * n);
  const std::string& name = r->header_name;
  if (name.empty() || line.size() <= name.size() || line[name.size()] != ':') return size * n;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return size * n;
  r->header_value = std::string(Trim(line.substr(name.size() + 1)));
  return size * n;
}

}  // namespace lk
