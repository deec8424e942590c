#pragma once
// Pictures of QR codes made at test time: qrencode's PNG (what a wallet shows), and photo-like
// JPEGs of it. No GoogleTest here, so benchmarks use it too.
#include <string>

namespace lk::testing {

// A picture of `token`'s QR code as a wallet shows it: qrencode, level M, written as PNG.
// Returns an empty string, or what went wrong.
std::string WriteQrPng(const std::string& token, const std::string& path);
struct PhotoLike {
  double angle_degrees = 0;  // rotation of the code on the picture
  double scale = 1;          // code width as a fraction of 480 px
  double noise = 0;          // standard deviation of Gaussian grey noise
  int quality = 50;          // JPEG quality
};
// A 1280x960 grey JPEG of the PNG at `png`: on an uneven background, rotated, scaled, with
// weaker contrast and noise (seeded by `seed`, printed by the caller).
std::string WritePhotoLike(const std::string& png, const std::string& jpeg, const PhotoLike& p,
                           unsigned seed);

}  // namespace lk::testing
