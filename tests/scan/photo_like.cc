#include "tests/scan/photo_like.h"

#include <png.h>
#include <spawn.h>
#include <sys/wait.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <vector>

#include "base/base.h"

extern char** environ;

namespace lk::testing {

std::string WriteQrPng(const std::string& token, const std::string& path) {
  std::vector<std::string> args = {"qrencode", "-l", "M", "-s", "8", "-m", "4", "-o", path, token};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "qrencode", nullptr, nullptr, argv.data(), environ) != 0)
    return "cannot run qrencode";
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "qrencode failed for " + path;
}

std::string WritePhotoLike(const std::string& png, const std::string& jpeg, const PhotoLike& p,
                           unsigned seed) {
  auto bytes = ReadFile(png);
  if (!bytes) return bytes.error().message;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes->data(), bytes->size())) return png + ": not a PNG";
  image.format = PNG_FORMAT_GRAY;
  std::vector<uint8_t> qr(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, qr.data(), 0, nullptr)) return png + ": broken PNG";
  const int qw = int(image.width), qh = int(image.height), W = 1280, H = 960;
  const double side = 480 * p.scale, a = p.angle_degrees * M_PI / 180, c = std::cos(a), s = std::sin(a);
  const double k = qw / side;  // source pixels per picture pixel
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, p.noise > 0 ? p.noise : 1);
  std::vector<uint8_t> out(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double bg = 110 + 60.0 * x / W + 30.0 * y / H;  // uneven light on a desk
      // Inverse rotation about the picture's centre into the code's coordinates (bilinear).
      double dx = x - W / 2.0, dy = y - H / 2.0;
      double u = (c * dx + s * dy) * k + qw / 2.0, v = (-s * dx + c * dy) * k + qh / 2.0;
      double value = bg;
      if (u >= 0 && v >= 0 && u < qw - 1 && v < qh - 1) {
        int u0 = int(u), v0 = int(v);
        double fu = u - u0, fv = v - v0;
        auto at = [&](int xx, int yy) { return double(qr[size_t(yy) * qw + xx]); };
        double g = at(u0, v0) * (1 - fu) * (1 - fv) + at(u0 + 1, v0) * fu * (1 - fv) +
                   at(u0, v0 + 1) * (1 - fu) * fv + at(u0 + 1, v0 + 1) * fu * fv;
        value = 45 + g * (215.0 - 45) / 255;  // a screen's black is not black, its white not white
      }
      if (p.noise > 0) value += noise(rng);
      out[size_t(y) * W + x] = uint8_t(std::clamp(value, 0.0, 255.0));
    }
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  std::string error;
  if (tjCompress2(tj, out.data(), W, 0, H, TJPF_GRAY, &buf, &size, TJSAMP_GRAY, p.quality, 0) != 0)
    error = std::string("JPEG: ") + tjGetErrorStr2(tj);
  else if (!std::ofstream(jpeg, std::ios::binary)
                .write(reinterpret_cast<const char*>(buf), std::streamsize(size)))
    error = "cannot write " + jpeg;
  tjFree(buf);
  tjDestroy(tj);
  return error;
}

}  // namespace lk::testing
