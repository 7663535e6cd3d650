/*
 * bcryptprimitives.dll for Wine 8.0 (Debian 12), test-only.
 *
 * Why: Rust's standard library (1.78+) gets its random bytes (HashMap seeds)
 * from ProcessPrng in bcryptprimitives.dll, and imports it at load time.
 * Wine 8.0 has no bcryptprimitives.dll, so every Rust .exe fails to start
 * under it before main. Windows 10+ has the real one, so this is never
 * shipped: scripts/test-windows.sh builds it with mingw-w64 and puts it next
 * to the .exe files it runs under Wine (a DLL in the .exe's folder is found
 * first).
 *
 * ProcessPrng fills the buffer with the system's random bytes and always
 * succeeds; advapi32's SystemFunction036 (RtlGenRandom) does the same.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* RtlGenRandom takes a ULONG length: feed a large request in pieces. */
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
