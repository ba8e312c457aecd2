{# Pending orders carry no money (Amazon gives none until payment is authorised): a money column of a mart is NULL
   for every order that is Pending, never 0. The model joins `orders` on its key to learn the status. #}
{% test null_while_pending(model, column_name) %}
select m.account_id, m.order_id, m.{{ column_name }}
from {{ model }} as m
join {{ ref('orders') }} as o using (account_id, order_id)
where o.order_status in ('PENDING', 'PENDING_AVAILABILITY') and m.{{ column_name }} is not null
{% endtest %}
