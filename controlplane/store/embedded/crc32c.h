/* CRC-32C (Castagnoli), the checksum of every log frame and snapshot
 * block: the SSE4.2 instruction where the CPU has it, a table otherwise. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Continue crc over p (start with 0). crc32c("123456789") == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
