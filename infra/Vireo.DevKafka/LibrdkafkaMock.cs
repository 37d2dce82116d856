using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Vireo.DevKafka;

/// <summary>
/// The parts of librdkafka's mock-cluster API that Confluent.Kafka does not expose. The functions are taken
/// from the very librdkafka image Confluent.Kafka loaded, so they operate on its handles.
/// </summary>
public sealed unsafe class LibrdkafkaMock
{
    private readonly delegate* unmanaged<IntPtr, IntPtr> _handleMockCluster;
    private readonly delegate* unmanaged<IntPtr, IntPtr> _bootstraps;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int, int, int> _topicCreate;
    private readonly delegate* unmanaged<IntPtr, int, int> _brokerSetDown;
    private readonly delegate* unmanaged<IntPtr, int, int> _brokerSetUp;
    private readonly IntPtr _cluster;

    public LibrdkafkaMock(Handle clientHandle)
    {
        var library = NativeLibrary.Load(LoadedLibrdkafkaPath());
        _handleMockCluster = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "rd_kafka_handle_mock_cluster");
        _bootstraps = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "rd_kafka_mock_cluster_bootstraps");
        _topicCreate = (delegate* unmanaged<IntPtr, IntPtr, int, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_topic_create");
        _brokerSetDown = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_broker_set_down");
        _brokerSetUp = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_broker_set_up");
        _cluster = _handleMockCluster(RawHandle(clientHandle));
        if (_cluster == IntPtr.Zero)
            throw new InvalidOperationException("The client has no mock cluster; was test.mock.num.brokers set?");
    }

    /// <summary>Comma-separated host:port list of the mock brokers.</summary>
    public string Bootstraps => Marshal.PtrToStringUTF8(_bootstraps(_cluster)) ?? throw new InvalidOperationException("No bootstrap address.");

    public void CreateTopic(string name, int partitions, int replicationFactor)
    {
        var utf8 = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            Check(_topicCreate(_cluster, utf8, partitions, replicationFactor), $"Creating topic '{name}'");
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }

    /// <summary>Closes the connections of broker <paramref name="brokerId"/> (1 for the first) and refuses new ones.</summary>
    public void SetBrokerDown(int brokerId) => Check(_brokerSetDown(_cluster, brokerId), $"Taking broker {brokerId} down");

    /// <summary>Lets broker <paramref name="brokerId"/> take connections again.</summary>
    public void SetBrokerUp(int brokerId) => Check(_brokerSetUp(_cluster, brokerId), $"Bringing broker {brokerId} up");

    private static void Check(int error, string what)
    {
        if (error != 0)
            throw new InvalidOperationException($"{what} failed with librdkafka error {error}.");
    }

    private static IntPtr RawHandle(Handle handle)
    {
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("This Confluent.Kafka version hides its librdkafka handle differently.");
        var safeHandle = (SafeHandle)property.GetValue(handle)!;
        return safeHandle.DangerousGetHandle();
    }

    private static string LoadedLibrdkafkaPath()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/');
            if (slash >= 0 && line.Contains("librdkafka", StringComparison.Ordinal))
                return line[slash..];
        }
        throw new InvalidOperationException("librdkafka is not loaded in this process.");
    }
}
