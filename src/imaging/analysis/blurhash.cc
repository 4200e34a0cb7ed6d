#include "imaging/analysis/blurhash.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>

namespace pf::imaging {
namespace {

constexpr std::string_view kBase83Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
static_assert(kBase83Alphabet.size() == 83);

constexpr int kMinComponents = 1;
constexpr int kMaxComponents = 9;
constexpr int kAcLevels = 19; // per channel: 0..18, centred on 9

// Reverse alphabet lookup; -1 for characters outside the alphabet.
constexpr std::array<int, 256> make_base83_index() {
    std::array<int, 256> index{};
    for (auto& v : index)
        v = -1;
    for (size_t i = 0; i < kBase83Alphabet.size(); ++i) {
        index[static_cast<uint8_t>(kBase83Alphabet[i])] = static_cast<int>(i);
    }
    return index;
}
constexpr std::array<int, 256> kBase83Index = make_base83_index();

void append_base83(std::string& out, int value, int digits) {
    int divisor = 1;
    for (int i = 1; i < digits; ++i)
        divisor *= 83;
    for (int i = 0; i < digits; ++i) {
        out += kBase83Alphabet[static_cast<size_t>((value / divisor) % 83)];
        divisor /= 83;
    }
}

// Callers validate the characters first; a bad character still cannot index out of bounds.
int decode_base83(std::string_view s) {
    int value = 0;
    for (const char c : s) {
        const int digit = kBase83Index[static_cast<uint8_t>(c)];
        value = value * 83 + (digit < 0 ? 0 : digit);
    }
    return value;
}

double srgb_to_linear_exact(int value) {
    const double v = value / 255.0;
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

// 256-entry table: the encoder converts every pixel, and pow() per channel dominates otherwise.
const std::array<double, 256>& srgb_to_linear_table() {
    static const std::array<double, 256> table = [] {
        std::array<double, 256> t{};
        for (int i = 0; i < 256; ++i)
            t[static_cast<size_t>(i)] = srgb_to_linear_exact(i);
        return t;
    }();
    return table;
}

int linear_to_srgb(double value) {
    const double v = std::clamp(value, 0.0, 1.0);
    const double encoded = v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1.0 / 2.4) - 0.055;
    return static_cast<int>(std::clamp(encoded * 255.0 + 0.5, 0.0, 255.0));
}

double sign_pow(double value, double exponent) {
    return std::copysign(std::pow(std::fabs(value), exponent), value);
}

struct Colour {
    double r = 0.0;
    double g = 0.0;
    double b = 0.0;
};

// cos(pi * k * (p + 0.5) / n) for k in [0, components) and p in [0, n), laid out [k * n + p].
//
// Deliberate deviation from the reference implementation, which samples at p instead of the
// pixel centre p + 0.5: that basis is not orthogonal to the DC term (for odd k the sum over a row
// is 1, not 0), so a solid-colour image gets non-zero AC terms of order 1/n and decodes with a
// visible gradient at the small sizes BlurHash is meant to be computed at. Sampling at pixel
// centres is the proper DCT-II basis. The hash format is unchanged, so standard decoders render
// our hashes (and we render theirs) with at most a half-pixel shift of the low-frequency terms.
std::vector<double> cosine_basis(int components, int n) {
    std::vector<double> table(static_cast<size_t>(components) * static_cast<size_t>(n));
    for (int k = 0; k < components; ++k) {
        for (int p = 0; p < n; ++p) {
            table[static_cast<size_t>(k) * static_cast<size_t>(n) + static_cast<size_t>(p)] =
                std::cos(std::numbers::pi * k * (p + 0.5) / n);
        }
    }
    return table;
}

int quantise_ac(double value, double maximum) {
    const double q = std::floor(sign_pow(value / maximum, 0.5) * 9.0 + 9.5);
    return static_cast<int>(std::clamp(q, 0.0, 18.0));
}

} // namespace

std::string blurhash_encode(const uint8_t* rgb, int width, int height, int components_x,
                            int components_y) {
    if (rgb == nullptr || width <= 0 || height <= 0)
        return {};
    if (components_x < kMinComponents || components_x > kMaxComponents ||
        components_y < kMinComponents || components_y > kMaxComponents) {
        return {};
    }

    const auto& to_linear = srgb_to_linear_table();
    const auto basis_x = cosine_basis(components_x, width);
    const auto basis_y = cosine_basis(components_y, height);
    const auto w = static_cast<size_t>(width);
    const auto h = static_cast<size_t>(height);
    const auto cx = static_cast<size_t>(components_x);
    const auto cy = static_cast<size_t>(components_y);

    // Separable projection: first project each row onto the horizontal basis, then combine rows.
    // This is O(w*h*cx + h*cx*cy) instead of O(w*h*cx*cy).
    std::vector<Colour> factors(cx * cy);
    std::vector<Colour> row_sums(cx);
    for (size_t y = 0; y < h; ++y) {
        std::fill(row_sums.begin(), row_sums.end(), Colour{});
        const uint8_t* row = rgb + y * w * 3;
        for (size_t x = 0; x < w; ++x) {
            const double r = to_linear[row[3 * x]];
            const double g = to_linear[row[3 * x + 1]];
            const double b = to_linear[row[3 * x + 2]];
            for (size_t i = 0; i < cx; ++i) {
                const double basis = basis_x[i * w + x];
                row_sums[i].r += basis * r;
                row_sums[i].g += basis * g;
                row_sums[i].b += basis * b;
            }
        }
        for (size_t j = 0; j < cy; ++j) {
            const double basis = basis_y[j * h + y];
            for (size_t i = 0; i < cx; ++i) {
                Colour& f = factors[j * cx + i];
                f.r += basis * row_sums[i].r;
                f.g += basis * row_sums[i].g;
                f.b += basis * row_sums[i].b;
            }
        }
    }
    const double pixel_count = static_cast<double>(w) * static_cast<double>(h);
    for (size_t k = 0; k < factors.size(); ++k) {
        // Orthogonality of the cosine basis: the DC term averages, AC terms need a factor of 2.
        const double scale = (k == 0 ? 1.0 : 2.0) / pixel_count;
        factors[k].r *= scale;
        factors[k].g *= scale;
        factors[k].b *= scale;
    }

    std::string hash;
    hash.reserve(4 + 2 * cx * cy);
    append_base83(hash, components_x - 1 + (components_y - 1) * 9, 1);

    double maximum = 1.0;
    if (factors.size() > 1) {
        double actual_max = 0.0;
        for (size_t k = 1; k < factors.size(); ++k) {
            actual_max = std::max({actual_max, std::fabs(factors[k].r), std::fabs(factors[k].g),
                                   std::fabs(factors[k].b)});
        }
        const int quantised_max =
            static_cast<int>(std::clamp(std::floor(actual_max * 166.0 - 0.5), 0.0, 82.0));
        maximum = (quantised_max + 1) / 166.0;
        append_base83(hash, quantised_max, 1);
    } else {
        append_base83(hash, 0, 1);
    }

    const Colour& dc = factors[0];
    append_base83(
        hash, (linear_to_srgb(dc.r) << 16) | (linear_to_srgb(dc.g) << 8) | linear_to_srgb(dc.b), 4);
    for (size_t k = 1; k < factors.size(); ++k) {
        const int value = quantise_ac(factors[k].r, maximum) * kAcLevels * kAcLevels +
                          quantise_ac(factors[k].g, maximum) * kAcLevels +
                          quantise_ac(factors[k].b, maximum);
        append_base83(hash, value, 2);
    }
    return hash;
}

bool blurhash_valid(std::string_view hash) {
    if (hash.size() < 6)
        return false;
    for (const char c : hash) {
        if (kBase83Index[static_cast<uint8_t>(c)] < 0)
            return false;
    }
    const int size_flag = decode_base83(hash.substr(0, 1));
    const int components_x = size_flag % 9 + 1;
    const int components_y = size_flag / 9 + 1;
    if (components_y > kMaxComponents)
        return false;
    return hash.size() == 4 + 2 * static_cast<size_t>(components_x * components_y);
}

std::vector<uint8_t> blurhash_decode(std::string_view hash, int width, int height, double punch) {
    if (!blurhash_valid(hash) || width <= 0 || height <= 0)
        return {};
    if (int64_t{width} * int64_t{height} > kBlurhashMaxDecodePixels)
        return {};
    if (!std::isfinite(punch) || punch <= 0.0)
        punch = 1.0;

    const int size_flag = decode_base83(hash.substr(0, 1));
    const int components_x = size_flag % 9 + 1;
    const int components_y = size_flag / 9 + 1;
    const auto cx = static_cast<size_t>(components_x);
    const auto cy = static_cast<size_t>(components_y);
    const double maximum = (decode_base83(hash.substr(1, 1)) + 1) / 166.0 * punch;

    std::vector<Colour> colours(cx * cy);
    const int dc = decode_base83(hash.substr(2, 4));
    const auto& to_linear = srgb_to_linear_table();
    colours[0] = Colour{to_linear[static_cast<size_t>((dc >> 16) & 0xFF)],
                        to_linear[static_cast<size_t>((dc >> 8) & 0xFF)],
                        to_linear[static_cast<size_t>(dc & 0xFF)]};
    for (size_t k = 1; k < colours.size(); ++k) {
        // 83^2 > 19^3, so a hostile pair can exceed 18 per channel; clamp keeps it in range.
        const int value = decode_base83(hash.substr(4 + 2 * k, 2));
        const auto channel = [maximum](int q) {
            return sign_pow((std::min(q, kAcLevels - 1) - 9) / 9.0, 2.0) * maximum;
        };
        colours[k] = Colour{channel(value / (kAcLevels * kAcLevels)),
                            channel((value / kAcLevels) % kAcLevels), channel(value % kAcLevels)};
    }

    const auto w = static_cast<size_t>(width);
    const auto h = static_cast<size_t>(height);
    const auto basis_x = cosine_basis(components_x, width);
    const auto basis_y = cosine_basis(components_y, height);
    std::vector<uint8_t> pixels(w * h * 3);
    for (size_t y = 0; y < h; ++y) {
        for (size_t x = 0; x < w; ++x) {
            Colour sum;
            for (size_t j = 0; j < cy; ++j) {
                const double by = basis_y[j * h + y];
                for (size_t i = 0; i < cx; ++i) {
                    const double basis = basis_x[i * w + x] * by;
                    const Colour& c = colours[j * cx + i];
                    sum.r += c.r * basis;
                    sum.g += c.g * basis;
                    sum.b += c.b * basis;
                }
            }
            uint8_t* out = &pixels[(y * w + x) * 3];
            out[0] = static_cast<uint8_t>(linear_to_srgb(sum.r));
            out[1] = static_cast<uint8_t>(linear_to_srgb(sum.g));
            out[2] = static_cast<uint8_t>(linear_to_srgb(sum.b));
        }
    }
    return pixels;
}

} // namespace pf::imaging
