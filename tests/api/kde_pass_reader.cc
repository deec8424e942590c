// kde_pass_reader FILE.pkpass [LOCALE]: reads a pass with KDE's libkpimpkpass (KPkPass, the
// reader of KDE Itinerary and KMail; not written here) and prints, as one JSON object, what that
// library makes of it: identifiers, the web service keys, the update URL it computes, voided,
// expiry, barcodes and fields (labels and values localized for LOCALE, default "nl"). Exit 1 when
// the library cannot read the file. The scenario test kde_pass_reader_test runs it.
#include <KPkPass/Barcode>
#include <KPkPass/Pass>
#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QUrl>
#include <cstdio>
#include <memory>

namespace {

QString FormatName(KPkPass::Barcode::Format f) {
  switch (f) {
    case KPkPass::Barcode::QR:
      return QStringLiteral("QR");
    case KPkPass::Barcode::PDF417:
      return QStringLiteral("PDF417");
    case KPkPass::Barcode::Aztec:
      return QStringLiteral("Aztec");
    case KPkPass::Barcode::Code128:
      return QStringLiteral("Code128");
    case KPkPass::Barcode::Invalid:
      break;
  }
  return QStringLiteral("Invalid");
}

QJsonObject Describe(const KPkPass::Pass& pass) {
  QJsonObject out;
  out[QStringLiteral("type")] = int(pass.type());
  out[QStringLiteral("passTypeIdentifier")] = pass.passTypeIdentifier();
  out[QStringLiteral("serialNumber")] = pass.serialNumber();
  out[QStringLiteral("organizationName")] = pass.organizationName();
  out[QStringLiteral("description")] = pass.description();
  out[QStringLiteral("authenticationToken")] = pass.authenticationToken();
  out[QStringLiteral("webServiceUrl")] = pass.webServiceUrl().toString(QUrl::FullyEncoded);
  out[QStringLiteral("passUpdateUrl")] = pass.passUpdateUrl().toString(QUrl::FullyEncoded);
  out[QStringLiteral("voided")] = pass.isVoided();
  out[QStringLiteral("expirationDate")] = pass.expirationDate().toUTC().toString(Qt::ISODate);
  out[QStringLiteral("hasIcon")] = pass.hasIcon();
  QJsonArray barcodes;
  for (const auto& b : pass.barcodes())
    barcodes.append(QJsonObject{{QStringLiteral("format"), FormatName(b.format())},
                                {QStringLiteral("message"), b.message()},
                                {QStringLiteral("messageEncoding"), b.messageEncoding()},
                                {QStringLiteral("alternativeText"), b.alternativeText()}});
  out[QStringLiteral("barcodes")] = barcodes;
  QJsonObject fields;
  for (const auto& f : pass.fields())
    fields[f.key()] =
        QJsonObject{{QStringLiteral("label"), f.label()}, {QStringLiteral("value"), f.valueDisplayString()}};
  out[QStringLiteral("fields")] = fields;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);  // KPkPass's lookups (locale, MIME) expect an application
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: kde_pass_reader FILE.pkpass [LOCALE]\n");
    return 2;
  }
  QLocale::setDefault(QLocale(argc == 3 ? QString::fromLocal8Bit(argv[2]) : QStringLiteral("nl")));
  const QString file = QString::fromLocal8Bit(argv[1]);
  std::unique_ptr<KPkPass::Pass> pass(KPkPass::Pass::fromFile(file));
  if (!pass) {
    std::fprintf(stderr, "kde_pass_reader: libkpimpkpass cannot read %s\n", argv[1]);
    return 1;
  }
  const QByteArray json = QJsonDocument(Describe(*pass)).toJson(QJsonDocument::Compact);
  std::fwrite(json.constData(), 1, size_t(json.size()), stdout);
  std::fputc('\n', stdout);
  return 0;
}
