#include "crc32c.h"

#include <string.h>

#include "base/crc32c_table.h"

/* Reflected polynomial 0x82f63b78, one byte at a time. */
static const uint32_t crc32c_table[256] = CRC32C_TABLE_INIT;

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p,
							     size_t n)
{
	uint64_t c = crc;

	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, n);
#endif
	return ~crc32c_sw(crc, p, n);
}
