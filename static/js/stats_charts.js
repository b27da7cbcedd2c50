// Draws the dashboard's charts from the JSON block #chart-data (labels come from its data attributes).
(function () {
  var source = document.getElementById('chart-data');
  if (!window.Chart || !source) return;
  var data = JSON.parse(source.textContent);
  var amountLabel = source.getAttribute('data-amount-label');
  var countLabel = source.getAttribute('data-count-label');
  document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    var key = canvas.getAttribute('data-chart');
    var d = data[key];
    if (!d) return;
    // The funnel's bars are different things (requests, meetings, deals, contracts): one dataset per
    // bar, so the legend names each bar instead of repeating one label on all of them.
    var stageColors = ['#0b5cad', '#2f7fc9', '#5b9bd8', '#8db8e3', '#b9d3ee', '#d9e6f5'];
    var datasets = key === 'funnel'
      ? d.labels.map(function (label, i) {
          return {label: label, data: d.counts.map(function (c, j) { return j === i ? c : null; }),
                  backgroundColor: stageColors[i % stageColors.length], skipNull: true};
        })
      : [{label: amountLabel, data: d.amounts, backgroundColor: '#0b5cad', yAxisID: 'y'},
         {label: countLabel, data: d.counts, backgroundColor: '#9fb6cf', yAxisID: 'y1'}];
    var horizontal = ['funnel', 'institution', 'field', 'fair'].indexOf(key) >= 0;
    var scales = key === 'funnel' ? {} : (horizontal
      ? {x: {position: 'bottom'}, x1: {position: 'top', grid: {drawOnChartArea: false}}}
      : {y: {position: 'left'}, y1: {position: 'right', grid: {drawOnChartArea: false}}});
    if (horizontal && key !== 'funnel') { datasets[0].xAxisID = 'x'; datasets[1].xAxisID = 'x1'; delete datasets[0].yAxisID; delete datasets[1].yAxisID; }
    new Chart(canvas, {type: 'bar', data: {labels: d.labels, datasets: datasets},
      options: {indexAxis: horizontal ? 'y' : 'x', responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
               datasets: {bar: {grouped: key !== 'funnel'}}}});
  });
})();
