using Npgsql;

namespace Vireo.Storage.Tests;

public sealed class DataSourceTests
{
    [Fact]
    public void APoolWithoutASizeOfItsOwnOpensTwiceTheCoresAndASizeGivenIsKept()
    {
        Assert.Equal(Math.Max(4, 2 * Environment.ProcessorCount), PoolSize("Host=db;Username=vireo"));
        Assert.Equal(37, PoolSize("Host=db;Username=vireo;Maximum Pool Size=37"));
        Assert.Equal(37, PoolSize("Host=db;Username=vireo;MaxPoolSize=37"));
    }

    private static int PoolSize(string connectionString)
    {
        using var dataSource = StorageServiceCollectionExtensions.DataSource(connectionString);
        return new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize;
    }
}
