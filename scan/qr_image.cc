// QR codes from image files: PNG through libpng's simplified API, JPEG through libjpeg-turbo's
// TurboJPEG API, both straight to 8-bit grey, which is what ZXing-C++ reads.
#include <png.h>
#include <turbojpeg.h>

#define ZX_USE_UTF8 1  // Result::text() as UTF-8 std::string (ZXing 1.4)
#include <ZXing/ReadBarcode.h>

#include <memory>
#include <vector>

#include "scan/scan.h"

namespace lk::scan {
namespace {

struct Grey {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

Result<Grey> LoadPng(std::string_view bytes, int64_t max_pixels) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    return Fail(Code::kInvalidArgument, std::string("not a readable PNG: ") + image.message);
  if (int64_t(image.width) * image.height > max_pixels) {
    png_image_free(&image);
    return Fail(Code::kInvalidArgument,
                "PNG too large: " + std::to_string(image.width) + "x" + std::to_string(image.height));
  }
  image.format = PNG_FORMAT_GRAY;  // alpha composed onto white by the background below
  Grey g{int(image.width), int(image.height), std::vector<uint8_t>(PNG_IMAGE_SIZE(image))};
  png_color white{255, 255, 255};
  if (!png_image_finish_read(&image, &white, g.pixels.data(), 0, nullptr))
    return Fail(Code::kInvalidArgument, std::string("broken PNG: ") + image.message);
  return g;
}

Result<Grey> LoadJpeg(std::string_view bytes, int64_t max_pixels) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) return Fail(Code::kInternal, "libjpeg-turbo: cannot create a decompressor");
  auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, bytes.size(), &width, &height, &subsampling, &colorspace) != 0)
    return Fail(Code::kInvalidArgument, std::string("not a readable JPEG: ") + tjGetErrorStr2(tj.get()));
  if (width <= 0 || height <= 0 || int64_t(width) * height > max_pixels)
    return Fail(Code::kInvalidArgument,
                "JPEG too large: " + std::to_string(width) + "x" + std::to_string(height));
  Grey g{width, height, std::vector<uint8_t>(size_t(width) * height)};
  if (tjDecompress2(tj.get(), data, bytes.size(), g.pixels.data(), width, 0, height, TJPF_GRAY,
                    TJFLAG_FASTDCT) != 0 &&
      tjGetErrorCode(tj.get()) == TJERR_FATAL)
    return Fail(Code::kInvalidArgument, std::string("broken JPEG: ") + tjGetErrorStr2(tj.get()));
  return g;
}

}  // namespace

Result<std::string> DecodeQrImage(std::string_view bytes, int64_t max_pixels) {
  Result<Grey> grey;
  if (bytes.starts_with("\x89PNG\r\n\x1a\n"))
    grey = LoadPng(bytes, max_pixels);
  else if (bytes.starts_with("\xff\xd8\xff"))
    grey = LoadJpeg(bytes, max_pixels);
  else
    return Fail(Code::kInvalidArgument, "not a PNG or JPEG image");
  if (!grey) return std::unexpected(grey.error());
  try {
    ZXing::DecodeHints hints;
    hints.setFormats(ZXing::BarcodeFormat::QRCode)
        .setTryHarder(true)
        .setTryRotate(true)
        .setTryDownscale(true);
    ZXing::ImageView view(grey->pixels.data(), grey->width, grey->height, ZXing::ImageFormat::Lum);
    auto result = ZXing::ReadBarcode(view, hints);
    if (!result.isValid()) return Fail(Code::kNotFound, "no QR code found in the image");
    return result.text();
  } catch (const std::exception& e) {
    return Fail(Code::kInternal, std::string("ZXing: ") + e.what());
  }
}

Result<std::string> DecodeQrFile(const std::filesystem::path& path) {
  auto bytes = ReadFile(path);
  if (!bytes) return Fail(Code::kInvalidArgument, bytes.error().message);
  auto text = DecodeQrImage(*bytes);
  if (!text) return Fail(text.error().code, path.string() + ": " + text.error().message);
  return text;
}

}  // namespace lk::scan
