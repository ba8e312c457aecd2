{# An amount equals an expression of other columns to within the currency's minor unit (a cent, or one yen): what
   rounding can leave, and nothing more. Rows where either side is NULL are not judged. #}
{% test equals_within_minor_unit(model, column_name, expression, currency_column='currency_code') %}
select *
from {{ model }}
where {{ column_name }} is not null and ({{ expression }}) is not null
  and abs({{ column_name }} - ({{ expression }})) >= {{ minor_unit(currency_column) }}
{% endtest %}
