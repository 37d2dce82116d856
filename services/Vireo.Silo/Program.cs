using Microsoft.AspNetCore.Builder;
using Vireo.ServiceDefaults;
using Vireo.Silo;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddVireoSilo();
var app = builder.Build();
app.MapDefaultEndpoints();
app.MapSiloDashboard();
await app.RunAsync();
