// corrconv_gpu emulator shim for cuda_fp16.h: __half stored as _Float16
// (IEEE binary16, round-to-nearest-even conversions as on the GPU).
#pragma once
#include <cstring>

struct __half {
    static constexpr bool __emu_is_half = true;
    _Float16 __x;
    __half() = default;
    constexpr __half(float f) : __x((_Float16)f) {}
    constexpr __half(double f) : __x((_Float16)f) {}
    constexpr __half(int i) : __x((_Float16)i) {}
    constexpr __half(unsigned i) : __x((_Float16)i) {}
    constexpr __half(long long i) : __x((_Float16)i) {}
    constexpr operator float() const { return (float)__x; }
    __half& operator+=(const __half& o) { __x = __x + o.__x; return *this; }
    __half& operator-=(const __half& o) { __x = __x - o.__x; return *this; }
    __half& operator*=(const __half& o) { __x = __x * o.__x; return *this; }
    __half& operator/=(const __half& o) { __x = __x / o.__x; return *this; }
};
typedef __half half;
struct __attribute__((aligned(4))) __half2 { __half x, y; };
typedef __half2 half2;
struct __half_raw { unsigned short x; };

inline __half __emu_mkhalf(_Float16 v) { __half h; h.__x = v; return h; }
inline __half operator+(const __half& a, const __half& b) { return __emu_mkhalf(a.__x + b.__x); }
inline __half operator-(const __half& a, const __half& b) { return __emu_mkhalf(a.__x - b.__x); }
inline __half operator*(const __half& a, const __half& b) { return __emu_mkhalf(a.__x * b.__x); }
inline __half operator/(const __half& a, const __half& b) { return __emu_mkhalf(a.__x / b.__x); }
inline __half operator-(const __half& a) { return __emu_mkhalf(-a.__x); }
inline bool operator==(const __half& a, const __half& b) { return a.__x == b.__x; }
inline bool operator!=(const __half& a, const __half& b) { return a.__x != b.__x; }
inline bool operator<(const __half& a, const __half& b) { return a.__x < b.__x; }
inline bool operator>(const __half& a, const __half& b) { return a.__x > b.__x; }
inline bool operator<=(const __half& a, const __half& b) { return a.__x <= b.__x; }
inline bool operator>=(const __half& a, const __half& b) { return a.__x >= b.__x; }

inline float __half2float(__half h) { return (float)h.__x; }
inline __half __float2half(float f) { return __emu_mkhalf((_Float16)f); }
inline __half __float2half_rn(float f) { return __emu_mkhalf((_Float16)f); }
inline __half __double2half(double f) { return __emu_mkhalf((_Float16)f); }
inline __half __int2half_rn(int i) { return __emu_mkhalf((_Float16)i); }
inline int __half2int_rz(__half h) { return (int)h.__x; }
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
inline __half __habs(__half a) { return a.__x < 0 ? -a : a; }
inline __half __hfma(__half a, __half b, __half c) { return __emu_mkhalf((_Float16)((float)a.__x * (float)b.__x + (float)c.__x)); }
inline bool __hisnan(__half a) { return a.__x != a.__x; }
inline unsigned short __half_as_ushort(__half h) { unsigned short r; std::memcpy(&r, &h, 2); return r; }
inline __half __ushort_as_half(unsigned short u) { __half h; std::memcpy(&h, &u, 2); return h; }
inline short __half_as_short(__half h) { short r; std::memcpy(&r, &h, 2); return r; }
inline __half __short_as_half(short u) { __half h; std::memcpy(&h, &u, 2); return h; }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__float2half(a), __float2half(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__float2half(a), __float2half(a)}; }
inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2{a.x + b.x, a.y + b.y}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2{a.x * b.x, a.y * b.y}; }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2{__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)}; }
