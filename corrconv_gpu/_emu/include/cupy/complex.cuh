// corrconv_gpu emulator shim for CuPy's <cupy/complex.cuh> (thrust::complex):
// maps complex<T> to std::complex<T>.  Built with -fcx-limited-range so that
// multiplication is the plain formula thrust uses.
#pragma once
#include <complex>
#include <type_traits>

using std::complex;
namespace thrust { using std::complex; using std::conj; using std::real; using std::imag; using std::abs;
                   using std::arg; using std::norm; using std::exp; using std::log; using std::sqrt; using std::pow;
                   using std::polar; using std::proj; }

// thrust::complex allows mixed-precision / integer operands; std::complex does not.
#define __EMU_CMIX(OP)                                                                                   \
template <class T, class S, class = std::enable_if_t<std::is_arithmetic<S>::value && !std::is_same<S, T>::value>> \
inline std::complex<std::common_type_t<T, S>> operator OP(const std::complex<T>& a, const S& b) {             \
    using C = std::common_type_t<T, S>; return std::complex<C>(a) OP C(b); }                                   \
template <class T, class S, class = std::enable_if_t<std::is_arithmetic<S>::value && !std::is_same<S, T>::value>> \
inline std::complex<std::common_type_t<T, S>> operator OP(const S& a, const std::complex<T>& b) {             \
    using C = std::common_type_t<T, S>; return C(a) OP std::complex<C>(b); }                                   \
template <class T, class U, class = std::enable_if_t<!std::is_same<U, T>::value>>                              \
inline std::complex<std::common_type_t<T, U>> operator OP(const std::complex<T>& a, const std::complex<U>& b) { \
    using C = std::common_type_t<T, U>; return std::complex<C>(a) OP std::complex<C>(b); }
__EMU_CMIX(+) __EMU_CMIX(-) __EMU_CMIX(*) __EMU_CMIX(/)
#undef __EMU_CMIX

template <typename T> inline bool isnan(std::complex<T> x) { return std::isnan(x.real()) || std::isnan(x.imag()); }
template <typename T> inline bool isinf(std::complex<T> x) { return std::isinf(x.real()) || std::isinf(x.imag()); }
template <typename T> inline bool isfinite(std::complex<T> x) { return std::isfinite(x.real()) && std::isfinite(x.imag()); }
