namespace Vireo.Model.Inference;

/// <summary>
/// bfloat16 as its 16 bits: the upper half of a float32, rounded to nearest even. The visual tokens of a real model are
/// bfloat16 on the device, so carrying them so between workers is exact and half the bytes of float32.
/// </summary>
public static class BFloat16
{
    public static ushort[] FromSingles(ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        for (var i = 0; i < values.Length; i++) bits[i] = FromSingle(values[i]);
        return bits;
    }

    public static float[] ToSingles(ReadOnlySpan<ushort> bits)
    {
        var values = new float[bits.Length];
        for (var i = 0; i < bits.Length; i++) values[i] = ToSingle(bits[i]);
        return values;
    }

    public static ushort FromSingle(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        // A NaN keeps a mantissa bit, so it stays a NaN rather than rounding to infinity.
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
