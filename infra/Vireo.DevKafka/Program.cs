using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Vireo.DevKafka;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddOptions<DevKafkaOptions>().BindConfiguration(DevKafkaOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddHostedService<MockClusterService>();
await builder.Build().RunAsync();
