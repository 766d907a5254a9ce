using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Duplex.Protocol;

/// <summary>
/// RFC 6455 §5.3 masking: byte i of the payload is XORed with byte (i mod 4) of the masking key.
/// The vectorized path XORs 64, 32 or 16 bytes at a time with the key repeated across a vector;
/// <see cref="ApplyScalar"/> is the byte-at-a-time reference the tests compare it with.
/// </summary>
internal static class PayloadMask
{
    /// <summary>
    /// Masks (or unmasks) <paramref name="source"/> into <paramref name="destination"/>, which may be
    /// the same memory. <paramref name="keyIndex"/> is the key byte that applies to the first payload
    /// byte (0–3), so a payload can be processed in pieces. Returns the key index for the next byte.
    /// </summary>
    public static int Apply(ReadOnlySpan<byte> source, Span<byte> destination, int maskKey, int keyIndex)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        int length = source.Length;
        if (length == 0)
        {
            return keyIndex;
        }

        if (!BitConverter.IsLittleEndian)
        {
            return ApplyScalar(source, destination, maskKey, keyIndex);
        }

        // Rotate the key so that its low byte is the one for source[0]; in little-endian memory a
        // vector of that uint then lines up with the payload byte for byte.
        uint key = BitOperations.RotateRight((uint)maskKey, (keyIndex & 3) * 8);
        ref byte src = ref MemoryMarshal.GetReference(source);
        ref byte dst = ref MemoryMarshal.GetReference(destination);
        nuint i = 0;
        nuint n = (nuint)length;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<byte>.Count)
        {
            Vector512<byte> k = Vector512.Create(key).AsByte();
            nuint last = n - (nuint)Vector512<byte>.Count;
            for (; i <= last; i += (nuint)Vector512<byte>.Count)
            {
                (Vector512.LoadUnsafe(ref src, i) ^ k).StoreUnsafe(ref dst, i);
            }
        }

        if (Vector256.IsHardwareAccelerated && n - i >= (nuint)Vector256<byte>.Count)
        {
            Vector256<byte> k = Vector256.Create(key).AsByte();
            nuint last = n - (nuint)Vector256<byte>.Count;
            for (; i <= last; i += (nuint)Vector256<byte>.Count)
            {
                (Vector256.LoadUnsafe(ref src, i) ^ k).StoreUnsafe(ref dst, i);
            }
        }

        if (Vector128.IsHardwareAccelerated && n - i >= (nuint)Vector128<byte>.Count)
        {
            Vector128<byte> k = Vector128.Create(key).AsByte();
            nuint last = n - (nuint)Vector128<byte>.Count;
            for (; i <= last; i += (nuint)Vector128<byte>.Count)
            {
                (Vector128.LoadUnsafe(ref src, i) ^ k).StoreUnsafe(ref dst, i);
            }
        }

        // Every step above advanced by a multiple of 4, so the key is still aligned here.
        for (; i + 4 <= n; i += 4)
        {
            uint word = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref src, i));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, i), word ^ key);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = (byte)(Unsafe.Add(ref src, i) ^ (byte)(key >> (int)((i & 3) * 8)));
        }

        return (keyIndex + length) & 3;
    }

    /// <summary>Masks <paramref name="data"/> in place; see <see cref="Apply(ReadOnlySpan{byte}, Span{byte}, int, int)"/>.</summary>
    public static int Apply(Span<byte> data, int maskKey, int keyIndex) => Apply(data, data, maskKey, keyIndex);

    /// <summary>The byte-at-a-time reference implementation.</summary>
    public static int ApplyScalar(ReadOnlySpan<byte> source, Span<byte> destination, int maskKey, int keyIndex)
    {
        for (int i = 0; i < source.Length; i++)
        {
            int k = (keyIndex + i) & 3;
            destination[i] = (byte)(source[i] ^ (byte)(maskKey >> (k * 8)));
        }

        return (keyIndex + source.Length) & 3;
    }
}
